"""The mediation rooms page: the joint room and the person's caucus rooms, chatting live."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from mediation import permissions
from mediation.models import Case, CaseState, User
from mediation.views.accounts import AuthenticatedRequest
from sessions import negotiation, services
from sessions.models import BlindBid, BlindBidRound, Offer, Room


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


def negotiation_state(case: Case, viewer: User) -> dict[str, Any]:
    """The offers and the latest blind-bidding round as the viewer may see them.

    在线调解规则 Art 18: a round says which sides have submitted, never a figure (the figures are
    not read here at all), and only the settled amount once it is decided.
    """
    offers = Offer.objects.filter(case=case).select_related("proposed_by", "counter_to").order_by("number")
    bid_round = BlindBidRound.objects.filter(case=case).order_by("-number").first()
    round_state = None
    if bid_round is not None:
        round_state = {
            "number": bid_round.number,
            "state": bid_round.state,
            "agreed_gap": str(bid_round.agreed_gap),
            "settled_amount": str(bid_round.settled_amount) if bid_round.settled_amount is not None else None,
            "submitted": sorted(BlindBid.objects.filter(round=bid_round).values_list("side", flat=True)),
        }
    return {
        "side": negotiation.side_of(viewer, case),
        "mediating": case.state == CaseState.MEDIATING,
        "offers": [
            {
                "number": offer.number,
                "side": offer.side,
                "state": offer.state,
                "proposed_by": offer.proposed_by.display_name,
                "counter_to": offer.counter_to.number if offer.counter_to else None,
                "accepted_sides": offer.accepted_sides,
                "terms": offer.terms,
            }
            for offer in offers
        ],
        "round": round_state,
    }


def _labels() -> dict[str, str]:
    return {
        "present": _("在线："),
        "typing": _("%(name)s 正在输入……"),
        "pending": _("发送中"),
        "you": _("我"),
        "system": _("系统"),
        "forbidden": _("您已无权进入该调解室，请刷新页面。"),
        "release": _("公开到联合调解室"),
        "released": _("已公开到联合调解室"),
        # files
        "uploading": _("正在上传 %(name)s（已完成 %(percent)s）"),
        "upload_failed": _("上传失败，请检查网络后重试。"),
        "bytes": _("%(size)s 字节"),
        "kilobytes": _("%(size)s KB"),
        "megabytes": _("%(size)s MB"),
        # offers
        "offer_title": _("方案 %(number)s"),
        "counter_of": _("（对方案 %(number)s 的还价）"),
        "proposed_by": _("提出人：%(name)s"),
        "amount": _("金额：%(amount)s 元"),
        "instalment": _("第 %(n)s 期：%(date)s 支付 %(amount)s 元"),
        "waiver": _("减免：%(text)s"),
        "other_terms": _("其他条款：%(text)s"),
        "accept": _("接受"),
        "reject": _("拒绝"),
        "counter": _("还价"),
        "withdraw": _("撤回"),
        "countering": _("正在对方案 %(number)s 还价"),
        "cancel_counter": _("取消还价"),
        "no_offers": _("还没有方案。"),
        "waiting_other": _("已有一方接受，等待另一方回应"),
        "offer_state_open": _("待回应"),
        "offer_state_accepted": _("已接受"),
        "offer_state_rejected": _("已拒绝"),
        "offer_state_countered": _("已还价"),
        "offer_state_withdrawn": _("已撤回"),
        "side_consumer": _("投诉人"),
        "side_institution": _("金融机构"),
        "side_mediator": _("调解员"),
        "not_connected": _("尚未连接到联合调解室，请稍候再试。"),
        # blind bidding
        "round_title": _("第 %(number)s 轮双盲报价"),
        "round_gap": _("双方事先约定的可接受差额：%(gap)s 元"),
        "round_open": _("报价中：请各方提交报价，报价不会向对方显示。"),
        "round_submitted": _("已提交报价：%(sides)s"),
        "round_settled": _("已达成：按双方报价的中间值 %(amount)s 元和解。"),
        "round_no_overlap": _("未能重合：双方的报价均不公开，也不会被记录。"),
        "round_cancelled": _("调解员已取消本轮报价，已提交的报价已删除。"),
        "bid_sent": _("您的报价已密封提交。报价不会显示给任何人，双方都提交后只公布结果。"),
        "cancel_round": _("取消本轮报价"),
    }


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
        "upload_limit_mb": settings.EVIDENCE_MAX_BYTES // 1048576,
        "negotiation": negotiation_state(case, request.user),
        "labels": _labels(),
    }
    return render(request, "sessions/rooms.html", context)


@login_required
def negotiation_view(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    """The same state as JSON: the page reloads it when an offer or round changes in the room."""
    case = permissions.get_case_for_user(request.user, case_pk)
    if not any(not room.is_caucus for room in services.rooms_for_user(request.user, case)):
        raise Http404  # the offers live in the joint room
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return JsonResponse(negotiation_state(case, request.user))
