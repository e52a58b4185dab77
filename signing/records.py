"""The mediation record (调解笔录) as PDF, sealed by the centre once every party has confirmed it.

``sessions.record`` owns the record and freezes its content (a canonical JSON snapshot); it cannot
import this app, so it sends ``record_confirmed`` after the last confirmation commits and this
module answers: render the snapshot with the agreement's typography (``signing.render``, the pinned
CJK font), seal it with the centre's seal (PAdES B-T, the document locked) and hand it back to
``sessions.record.attach_sealed_pdf``. Rendering takes about a second, so it never runs inside the
confirming transaction.

The PDF shows only what the snapshot holds and the parties' confirmations: statements come from
the joint room only (在线调解规则 Art 18), never a caucus.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sessions import record as records
from sessions.models import MediationRecord, RecordConfirmation, Room
from signing import pki
from signing.render import render_pdf
from signing.services import sign_in_new_field

logger = logging.getLogger(__name__)

TEMPLATE = "signing/pdf/mediation_record.html"
SEAL_FIELD = "centre-seal"


def _identity_method(method: str) -> str:
    labels = {"sms": _("短信验证码"), "email": _("邮件验证码")}
    return labels.get(method, method)


def _consent(value: bool | None) -> str:
    if value is True:
        return _("各方当事人明确同意录音录像。")
    if value is False:
        return _("当事人未同意录音录像，本场调解未录音录像。")
    return _("未记录当事人是否同意录音录像。")


def _w3c(text: str | None) -> str:
    if not text:
        return ""
    moment = datetime.datetime.fromisoformat(text)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(text: str | None) -> str:
    """``2026-12-05T14:03:09+08:00`` → ``2026-12-05 14:03:09``."""
    return text.replace("T", " ")[:19] if text else "—"


def _who(row: RecordConfirmation, case: Any) -> str:
    side = records.side_label(row.side, case)
    if row.side == Room.INSTITUTION_SIDE:
        return _("%(side)s（经办人 %(name)s）") % {"side": side, "name": row.user.display_name}
    return side


def render_record(record: MediationRecord) -> bytes:
    """The confirmed record as PDF (unsigned): the snapshot and the parties' confirmations."""
    snapshot = records.snapshot_of(record)
    case = record.session.case
    with translation.override("zh-hans"):
        confirmations = [
            {
                "who": _who(row, case),
                "at": _shown(timezone.localtime(row.at).isoformat(timespec="seconds")),
            }
            for row in record.confirmations.filter(
                revision=record.revision, kind=RecordConfirmation.Kind.CONFIRMED
            ).select_related("user")
        ]
        session = snapshot["session"]
        context: dict[str, Any] = {
            "snapshot": snapshot,
            "case": case,
            "session": {
                **session,
                **{key: _shown(session[key]) for key in ("scheduled_start", "scheduled_end", "opened_at", "closed_at")},
            },
            "consent": _consent(session["recording_consent"]),
            "participants": [
                {
                    **row,
                    "identity_method_label": _identity_method(row["identity_method"]),
                    "identity_verified_at": _shown(row["identity_verified_at"]),
                    "warning_acknowledged_at": _shown(row["warning_acknowledged_at"]),
                    "joined_at": _shown(row["joined_at"]),
                    "left_at": _shown(row["left_at"]),
                }
                for row in snapshot["participants"]
            ],
            "statements": [{**row, "at": _shown(row["at"])} for row in snapshot["statements"]],
            "confirmations": confirmations,
            "finalised_at": _shown(snapshot["finalised_at"]),
            "sha256": record.snapshot_sha256,
            "created_w3c": _w3c(snapshot["finalised_at"]),
        }
    return render_pdf(TEMPLATE, context, identifier=record.snapshot_sha256[:32])


def seal_record(record: MediationRecord) -> MediationRecord:
    """Render, seal with the centre's seal and store a confirmed record; nothing to do if sealed."""
    record = MediationRecord.objects.select_related("session__case__centre").get(pk=record.pk)
    if record.is_sealed or record.state != MediationRecord.State.CONFIRMED:
        return record
    pdf = render_record(record)
    centre = record.session.case.centre
    with translation.override("zh-hans"):
        reason = _("调解组织确认调解笔录经各方当事人确认")
    sealed = sign_in_new_field(pdf, SEAL_FIELD, pki.authority().seal_certificate(centre), reason=reason)
    return records.attach_sealed_pdf(record, sealed)


def seal_after_confirmation(sender: object, *, record: MediationRecord, **kwargs: Any) -> None:
    """Receiver of ``sessions.record.record_confirmed`` (sent after commit)."""
    try:
        seal_record(record)
    except Exception:
        # The confirmations stand; ``manage.py seal_mediation_records`` seals it on its next run.
        logger.exception("could not seal mediation record %s", record.pk)


def seal_pending_records() -> list[MediationRecord]:
    """Seal every confirmed record that has no sealed PDF yet (idempotent, cron-safe)."""
    pending = MediationRecord.objects.filter(state=MediationRecord.State.CONFIRMED, sealed_at__isnull=True)
    return [seal_record(record) for record in pending.order_by("pk")]
