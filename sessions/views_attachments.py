"""Files in rooms over HTTP: upload (the message then arrives through the socket) and download.

Both look the room up through ``services.room_for_user`` before anything else: an outsider, or a
party asking for the other side's caucus file, gets 404 whatever the method.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase

from mediation import ledger
from mediation.views.accounts import AuthenticatedRequest
from sessions import attachments, services
from sessions.services import RoomError

REFUSED_CODES = ("forbidden", "muted")


@login_required
def upload(request: AuthenticatedRequest, room_pk: int) -> HttpResponse:
    try:
        room = services.room_for_user(request.user, room_pk)
    except RoomError:
        raise Http404 from None
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        message = attachments.post_file(
            room, author=request.user, upload=request.FILES.get("file"), ip=ledger.client_ip(request)
        )
    except RoomError as error:
        body = {"error": {"code": error.code, "message": error.message, "field": error.field}}
        return JsonResponse(body, status=403 if error.code in REFUSED_CODES else 400)
    return JsonResponse({"seq": message.seq}, status=201)


@login_required
def download(request: AuthenticatedRequest, room_pk: int, attachment_pk: int) -> HttpResponseBase:
    try:
        attachment = attachments.attachment_for_user(request.user, room_pk, attachment_pk)
    except RoomError:
        raise Http404 from None
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    # Who opened which file is evidence, as for case evidence.
    ledger.record(
        "sessions.attachment.downloaded",
        actor=request.user,
        case=attachment.room.case,
        ip=ledger.client_ip(request),
        data={"room": attachment.room_id, "attachment": attachment.pk},
    )
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    # The type is what the upload check sniffed; the browser must not guess another one.
    response["X-Content-Type-Options"] = "nosniff"
    return response
