"""Drafting the mediation agreement: versions, comments, diffs and the mediator's finalisation.

Each service runs in a transaction, locks the case or agreement row, checks who acts and in which
state, writes a ledger entry (``signing.agreement.*``) and tells people after the commit. Views
decide who may open which page (``mediation.permissions``); these functions enforce the rules
again, so no other caller can draft past them.

Rendering and signing belong to ``signing.services``: finalisation only freezes the content and
its hash, and the caller prepares the signing document once the freeze has committed.
"""

from __future__ import annotations

import difflib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mediation import audience, ledger, permissions
from mediation.models import Case, CaseState, User
from mediation.notifications import notify
from mediation.services import CaseError
from signing import evidence, negotiated
from signing import terms as agreement_terms
from signing.models import Agreement, AgreementVersion, DisputeTemplate, SigningEvent, VersionComment

# No 0/O, 1/I: the code is read off paper and typed in by hand.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 8
MAX_FACTS = 10000
MAX_COMMENT = 2000


class DraftingError(CaseError):
    """A drafting request the rules refuse; ``str(error)`` is shown to the user as is."""


def _lock_case(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("institution", "centre").get(pk=case.pk)


def _lock_agreement(agreement: Agreement) -> Agreement:
    return Agreement.objects.select_for_update().select_related("case").get(pk=agreement.pk)


def _require_mediator(actor: User, case: Case) -> None:
    if not actor.has_perm(permissions.MEDIATE, case):
        raise DraftingError(_("只有本案的调解员可以起草、修改和定稿调解协议。"))


def may_comment(user: User, case: Case) -> bool:
    """Parties, the institution's people and the mediators; not centre staff who only oversee."""
    return user.has_perm(permissions.VIEW, case) and any(
        user.has_perm(perm, case) for perm in (permissions.TAKE_PART, permissions.ANSWER, permissions.MEDIATE)
    )


def _require_mediating(case: Case) -> None:
    if case.state != CaseState.MEDIATING:
        raise DraftingError(
            _("案件当前状态为「%(state)s」，只有在调解中才能起草或修改调解协议。") % {"state": case.get_state_display()}
        )


def _require_open(agreement: Agreement) -> None:
    if agreement.state == Agreement.State.VOID:
        raise DraftingError(_("调解协议已作废，不能再修改或提出意见。"))
    if agreement.is_frozen:
        raise DraftingError(_("调解协议已定稿，内容不能再修改，也不再接受意见。"))


def _tell_after_commit(recipients: Iterable[User], kind: str, message: str, case: Case, *, actor: User) -> None:
    people = [user for user in recipients if user.pk != actor.pk]
    if people:
        transaction.on_commit(lambda: notify(people, kind, message, case=case), robust=True)


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def _unused_short_code() -> str:
    # 32^8 codes: a collision is rare, but the column is unique, so look before using one.
    while True:
        code = new_short_code()
        if not Agreement.objects.filter(short_code=code).exists():
            return code


def _clean_text(facts: str, dispute: str) -> tuple[str, str]:
    """Line endings as ``\\n`` and no outer blanks, so the hash does not depend on the browser."""
    errors: dict[str, list[str]] = {}
    cleaned = []
    for key, value, label in (("facts", facts, _("主要事实")), ("dispute", dispute, _("争议事项"))):
        text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            errors[key] = [_("请填写%(label)s。") % {"label": label}]
        elif len(text) > MAX_FACTS:
            errors[key] = [_("%(label)s不能超过 %(limit)s 个字。") % {"label": label, "limit": MAX_FACTS}]
        cleaned.append(text)
    if errors:
        raise ValidationError(errors)
    return cleaned[0], cleaned[1]


def _ledger_version_data(agreement: Agreement, version: AgreementVersion) -> dict[str, Any]:
    return {"agreement": agreement.pk, "version": version.number, "content_hash": version.content_hash}


def start_agreement(case: Case, *, actor: User, template: str | None = None, ip: str | None = None) -> Agreement:
    """Open the agreement of ``case`` with version 1 proposed by its template."""
    with transaction.atomic():
        case = _lock_case(case)
        _require_mediator(actor, case)
        existing = Agreement.objects.filter(case=case).first()
        if existing is not None and existing.state == Agreement.State.VOID:
            raise DraftingError(_("本案的调解协议已作废，调解已经结束，不能重新起草。"))
        if existing is not None:
            raise DraftingError(_("本案已有调解协议，请在原协议上修改，不能重复创建。"))
        _require_mediating(case)
        chosen = template or agreement_terms.template_for_case(case)
        if chosen not in DisputeTemplate.values:
            raise DraftingError(_("请选择有效的协议模板。"))
        # The agreement is a Chinese legal document whatever language the mediator reads the site in.
        with translation.override(settings.LANGUAGE_CODE):
            facts, dispute, terms = agreement_terms.template_defaults(chosen, case)
            change_note = _("根据「%(template)s」模板生成的初稿") % {"template": DisputeTemplate(chosen).label}
            outcome = negotiated.latest_outcome(case)
            used = None
            if outcome is not None:
                terms, note, used = _with_negotiated(terms, outcome)
                change_note = f"{change_note}；{note}"[:300]
        agreement = Agreement.objects.create(case=case, template=chosen, short_code=_unused_short_code())
        _publish_version(
            agreement,
            number=1,
            facts=facts,
            dispute=dispute,
            terms=terms,
            change_note=change_note,
            actor=actor,
            ip=ip,
            action="signing.agreement.started",
            extra={"template": chosen, **_negotiated_ledger_data(used)},
            message=_("调解员已起草调解协议初稿，请查看并提出意见。"),
        )
    return agreement


def _with_negotiated(
    terms: dict[str, Any], outcome: negotiated.Negotiated
) -> tuple[dict[str, Any], str, negotiated.Negotiated | None]:
    """The terms with the negotiated ones in, the note saying so, and the outcome used; the terms
    unchanged (and the note says why) when they no longer clean, such as an instalment date that
    has passed since the offer was accepted."""
    try:
        return agreement_terms.clean_terms(negotiated.apply(terms, outcome)), outcome.note, outcome
    except ValidationError as error:
        problems = "；".join(message for messages in error.message_dict.values() for message in messages)
        note = _("未能采用协商结果（%(source)s）：%(problems)s") % {"source": outcome.label, "problems": problems}
        return terms, note, None


def _negotiated_ledger_data(outcome: negotiated.Negotiated | None) -> dict[str, Any]:
    return {"negotiated": {"kind": outcome.kind, "number": outcome.number}} if outcome else {}


def use_negotiated(agreement: Agreement, *, actor: User, ip: str | None = None) -> AgreementVersion:
    """A new draft: the latest one with the terms of the latest accepted offer or settled bid."""
    with transaction.atomic():
        agreement = _lock_agreement(agreement)
        case = agreement.case
        _require_mediator(actor, case)
        outcome = negotiated.latest_outcome(case)
        if outcome is None:
            raise DraftingError(_("本案还没有双方接受的方案或达成一致的双盲报价。"))
        latest = agreement.versions.order_by("-number").first()
        if latest is None:
            raise DraftingError(_("请先起草调解协议。"))
        with translation.override(settings.LANGUAGE_CODE):
            terms = negotiated.apply(latest.terms, outcome)
            note = outcome.note
        try:
            return save_version(
                agreement,
                actor=actor,
                facts=latest.facts,
                dispute=latest.dispute,
                terms=terms,
                change_note=note,
                ip=ip,
            )
        except ValidationError as error:
            problems = "；".join(message for messages in error.message_dict.values() for message in messages)
            raise DraftingError(
                _("未能采用协商结果（%(source)s）：%(problems)s") % {"source": outcome.label, "problems": problems}
            ) from None


def _publish_version(
    agreement: Agreement,
    *,
    number: int,
    facts: str,
    dispute: str,
    terms: dict[str, Any],
    change_note: str,
    actor: User,
    ip: str | None,
    action: str,
    extra: dict[str, Any],
    message: str,
) -> AgreementVersion:
    """Store a draft with its hash, its ledger entry, and tell both sides (inside the caller's lock)."""
    version = AgreementVersion.objects.create(
        agreement=agreement,
        number=number,
        facts=facts,
        dispute=dispute,
        terms=terms,
        change_note=change_note,
        author=actor,
        content_hash=agreement_terms.content_hash(facts, dispute, terms),
    )
    ledger.record(
        action, actor=actor, case=agreement.case, ip=ip, data={**_ledger_version_data(agreement, version), **extra}
    )
    _tell_after_commit(
        audience.both_sides(agreement.case), "signing.agreement.version", message, agreement.case, actor=actor
    )
    return version


def save_version(
    agreement: Agreement,
    *,
    actor: User,
    facts: str,
    dispute: str,
    terms: dict[str, Any],
    change_note: str = "",
    ip: str | None = None,
) -> AgreementVersion:
    """A new immutable draft numbered after the last one; raises ValidationError for bad content."""
    with transaction.atomic():
        # The agreement row serialises writers: two saves get numbers N+1 and N+2, never the same.
        agreement = _lock_agreement(agreement)
        case = agreement.case
        _require_mediator(actor, case)
        _require_open(agreement)
        _require_mediating(case)
        facts, dispute = _clean_text(facts, dispute)
        cleaned = agreement_terms.clean_terms(terms)
        change_note = " ".join((change_note or "").split())
        if len(change_note) > 300:
            raise ValidationError({"change_note": [_("修改说明不能超过 300 个字。")]})
        digest = agreement_terms.content_hash(facts, dispute, cleaned)
        last = agreement.versions.order_by("-number").first()
        if last is not None and last.content_hash == digest:
            raise ValidationError(
                {NON_FIELD_ERRORS: [_("内容与第 %(number)s 稿完全相同，无需保存新版本。") % {"number": last.number}]}
            )
        number = (agreement.versions.aggregate(last=Max("number"))["last"] or 0) + 1
        return _publish_version(
            agreement,
            number=number,
            facts=facts,
            dispute=dispute,
            terms=cleaned,
            change_note=change_note,
            actor=actor,
            ip=ip,
            action="signing.agreement.version_saved",
            extra={"change_note": change_note},
            message=_("调解协议第 %(number)s 稿已发布，请查看并提出意见。") % {"number": number},
        )


def add_comment(version: AgreementVersion, *, actor: User, body: str, ip: str | None = None) -> VersionComment:
    """A comment on a draft by a party or a mediator, until the agreement is finalised."""
    with transaction.atomic():
        agreement = _lock_agreement(version.agreement)
        case = agreement.case
        if not may_comment(actor, case):
            raise DraftingError(_("只有本案当事人和调解员可以对协议草稿提出意见。"))
        _require_open(agreement)
        body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if not body:
            raise ValidationError({"body": [_("请填写意见内容。")]})
        if len(body) > MAX_COMMENT:
            raise ValidationError(
                {
                    "body": [
                        _("意见不能超过 %(limit)s 个字（现有 %(count)s 个）。")
                        % {"limit": MAX_COMMENT, "count": len(body)}
                    ]
                }
            )
        comment = VersionComment.objects.create(version=version, author=actor, body=body)
        ledger.record(
            "signing.agreement.commented",
            actor=actor,
            case=case,
            ip=ip,
            data={"agreement": agreement.pk, "version": version.number, "comment": comment.pk},
        )
        _tell_after_commit(
            audience.mediators(case),
            "signing.agreement.comment",
            _("%(name)s对调解协议第 %(number)s 稿提出了意见。")
            % {"name": actor.display_name, "number": version.number},
            case,
            actor=actor,
        )
    return comment


# --- diff ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added" or "removed"
    text: str
    heading: bool = False


# A sentence ends at a Chinese or Latin full stop, question or exclamation mark, or semicolon.
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
LONG_PARAGRAPH = 60


def _lines_of_text(text: str) -> list[str]:
    """Paragraphs; a long paragraph by sentence, so one changed sentence does not mark the whole."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= LONG_PARAGRAPH:
            lines.append(paragraph)
            continue
        lines.extend(part.strip() for part in SENTENCE_END.split(paragraph) if part.strip())
    return lines


def _sections(version: AgreementVersion) -> list[tuple[str, list[str]]]:
    return [
        (_("主要事实"), _lines_of_text(version.facts)),
        (_("争议事项"), _lines_of_text(version.dispute)),
        (_("协议条款"), agreement_terms.describe(version.terms)),
    ]


def diff(old: AgreementVersion, new: AgreementVersion) -> list[DiffLine]:
    """What changed from ``old`` to ``new``, section by section, line by line."""
    result: list[DiffLine] = []
    for (title, before), (_title, after) in zip(_sections(old), _sections(new), strict=True):
        result.append(DiffLine("same", title, heading=True))
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                result.extend(DiffLine("same", line) for line in before[i1:i2])
                continue
            result.extend(DiffLine("removed", line) for line in before[i1:i2])
            result.extend(DiffLine("added", line) for line in after[j1:j2])
    return result


# --- finalisation ---------------------------------------------------------------------------------


def finalise(
    agreement: Agreement, *, actor: User, version: AgreementVersion, ip: str | None = None, user_agent: str = ""
) -> Agreement:
    """Freeze ``version`` (the latest) and its content hash; the parties sign exactly this content.

    Only a mediator of the case may finalise (issue 5). Rendering is not done here: it runs
    outside the transaction (``signing.services.prepare_signing``), called once this has committed.
    """
    with transaction.atomic():
        agreement = _lock_agreement(agreement)
        case = agreement.case
        _require_mediator(actor, case)
        _require_open(agreement)
        _require_mediating(case)
        latest = agreement.versions.order_by("-number").first()
        if version.agreement_id != agreement.pk or latest is None or latest.pk != version.pk:
            raise DraftingError(
                _("只能对最新一稿（第 %(latest)s 稿）定稿。") % {"latest": latest.number if latest else "—"}
            )
        version = AgreementVersion.objects.get(pk=version.pk)
        try:
            agreement_terms.clean_terms(version.terms)
        except ValidationError as error:
            problems = "；".join(message for messages in error.message_dict.values() for message in messages)
            raise DraftingError(
                _("第 %(number)s 稿的条款已不符合要求，请修改后保存新的一稿再定稿：%(problems)s")
                % {"number": version.number, "problems": problems}
            ) from None
        digest = agreement_terms.content_hash(version.facts, version.dispute, version.terms)
        if digest != version.content_hash:
            raise DraftingError(_("第 %(number)s 稿的内容与其校验值不符，不能定稿。") % {"number": version.number})
        agreement.final_version = version
        agreement.final_content_hash = digest
        agreement.finalised_at = timezone.now()
        agreement.finalised_by = actor
        agreement.save(update_fields=["final_version", "final_content_hash", "finalised_at", "finalised_by"])
        data = _ledger_version_data(agreement, version)
        evidence.record(
            agreement,
            SigningEvent.Kind.FINALISED,
            actor=actor,
            origin=evidence.Origin(ip=ip, user_agent=user_agent),
            data=data,
            action="signing.agreement.finalised",
        )
        _tell_after_commit(
            audience.both_sides(case) + audience.mediators(case),
            "signing.agreement.finalised",
            _("调解员已将调解协议第 %(number)s 稿定稿，内容不再修改，即将进入签署。") % {"number": version.number},
            case,
            actor=actor,
        )
    return agreement
