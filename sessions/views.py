"""The mediation rooms page: the joint room and the person's caucus rooms, chatting live."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.translation import gettext as _

from mediation import permissions
from mediation.models import User
from mediation.views.accounts import AuthenticatedRequest
from sessions import services
from sessions.models import Room


def room_label(room: Room, viewer: User) -> str:
    """What the room is called on the page, from the viewer's point of view."""
    if not room.is_caucus:
        return _("联合调解室")
    if room.side == Room.INSTITUTION_SIDE:
        name = room.case.institution.name
    else:
        user = User.objects.filter(pk=int(room.side.split(":", 1)[1])).first()
        name = user.display_name if user else room.side
    if viewer.has_perm(permissions.MEDIATE, room.case):
        return _("单方会谈室 · %(name)s") % {"name": name}
    return _("单方会谈室（仅本方与调解员可见）")


@login_required
def rooms(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    available = services.rooms_for_user(request.user, case)
    if not available:
        raise Http404  # centre staff and others on the case but in no room
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    context = {
        "case": case,
        "rooms": [{"room": room, "label": room_label(room, request.user)} for room in available],
        "max_chars": services.message_max_chars(),
        "labels": {
            "present": _("在线："),
            "typing": _("%(name)s 正在输入……"),
            "pending": _("发送中"),
            "you": _("我"),
            "system": _("系统"),
            "forbidden": _("您已无权进入该调解室，请刷新页面。"),
            "release": _("公开到联合调解室"),
            "released": _("已公开到联合调解室"),
        },
    }
    return render(request, "sessions/rooms.html", context)
