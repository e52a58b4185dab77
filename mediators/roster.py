"""The pool itself: who may see and manage which mediator profile, profile services, the public roster.

Centre staff (case managers) manage the profiles of their own centre; a mediator may read their own
profile, keep their own unavailable dates and declare their own relationships. Every change goes
through a function here, runs in one transaction and writes a ``mediators.…`` ledger entry (no case).

The public roster (在线调解规则 Art 5) lists only mediators who could be assigned today: active,
with an active account and at least one qualification that has not expired.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import ledger, permissions
from mediation.classification import ISSUE_TYPES, ProductCategory
from mediation.models import Organisation, Role, User
from mediation.services import CaseError
from mediators.models import (
    DeclaredRelationship,
    Expertise,
    Language,
    MediatorLanguage,
    MediatorProfile,
    Qualification,
    Unavailability,
)

AnyUser = User | AnonymousUser

# Fields of MediatorProfile that staff edit through the profile form (status has its own action).
PROFILE_FIELDS = (
    "display_name",
    "title",
    "employment",
    "region",
    "max_caseload",
    "charges_fees",
    "fee_note",
    "biography",
)


# --- validity --------------------------------------------------------------------------------


def valid_qualification_exists(on: datetime.date) -> Exists:
    """SQL condition: the profile holds a qualification with no expiry or expiring on/after ``on``."""
    return Exists(
        Qualification.objects.filter(profile=OuterRef("pk")).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=on))
    )


def has_valid_certificate(profile: MediatorProfile, on: datetime.date | None = None) -> bool:
    """Whether ``profile`` holds at least one qualification valid on ``on`` (default today).

    Reads prefetched qualifications when the caller prefetched them, so lists stay one query.
    """
    day = on or timezone.localdate()
    return any(qualification.is_valid_on(day) for qualification in profile.qualifications.all())


def assignable_profiles(centre: Organisation, on: datetime.date | None = None) -> QuerySet[MediatorProfile]:
    """The centre's mediators who may be put on a case on ``on``: active, account active, certified."""
    day = on or timezone.localdate()
    return MediatorProfile.objects.filter(
        centre=centre,
        status=MediatorProfile.Status.ACTIVE,
        user__is_active=True,
        user__role=Role.MEDIATOR,
    ).filter(valid_qualification_exists(day))


def public_profiles(on: datetime.date | None = None) -> QuerySet[MediatorProfile]:
    """Every centre's mediators shown on the public roster, with what the page shows prefetched."""
    day = on or timezone.localdate()
    return (
        MediatorProfile.objects.filter(
            status=MediatorProfile.Status.ACTIVE, user__is_active=True, user__role=Role.MEDIATOR
        )
        .filter(valid_qualification_exists(day))
        .select_related("centre")
        .prefetch_related(
            Prefetch("expertise", queryset=Expertise.objects.order_by("product_category", "issue_type", "id")),
            Prefetch("languages", queryset=MediatorLanguage.objects.order_by("id")),
            Prefetch(
                "qualifications",
                queryset=Qualification.objects.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=day)),
            ),
        )
    )


def filter_public_profiles(profiles: QuerySet[MediatorProfile], filters: dict[str, Any]) -> QuerySet[MediatorProfile]:
    """Apply the roster's search box and filters; each filter is an EXISTS, so no row is repeated."""
    text = (filters.get("q") or "").strip()
    if text:
        profiles = profiles.filter(
            Q(display_name__icontains=text) | Q(biography__icontains=text) | Q(title__icontains=text)
        )
    if filters.get("category"):
        profiles = profiles.filter(
            Exists(Expertise.objects.filter(profile=OuterRef("pk"), product_category=filters["category"]))
        )
    if filters.get("language"):
        profiles = profiles.filter(
            Exists(MediatorLanguage.objects.filter(profile=OuterRef("pk"), language=filters["language"]))
        )
    if filters.get("region"):
        profiles = profiles.filter(region=filters["region"])
    return profiles


def public_regions() -> list[str]:
    """The regions of the mediators on the public roster, for the region filter."""
    regions = (
        public_profiles().order_by().values_list("region", flat=True).distinct()  # no ordering: DISTINCT on region
    )
    return sorted(set(regions))


def expertise_label(entry: Expertise) -> str:
    category = str(ProductCategory(entry.product_category).label)
    if not entry.issue_type:
        return category
    issue = str(dict(ISSUE_TYPES.get(entry.product_category, [])).get(entry.issue_type, entry.issue_type))
    return f"{category} · {issue}"


# --- who may reach a profile -----------------------------------------------------------------


def centre_of_case_manager(user: AnyUser) -> Organisation:
    """The centre whose pool ``user`` manages; the staff pages are 404 for everyone else."""
    if not user.is_authenticated or not user.is_active or user.role != Role.CASE_MANAGER:
        raise Http404
    if user.organisation is None:
        raise Http404
    return user.organisation


def _is_manager_of(user: AnyUser, centre_id: int) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.role == Role.CASE_MANAGER
        and user.organisation_id is not None
        and user.organisation_id == centre_id
    )


def _is_the_mediator(user: AnyUser, profile: MediatorProfile) -> bool:
    return user.is_authenticated and user.is_active and user.pk == profile.user_id


def _profile_or_404(mediator_pk: int | str) -> MediatorProfile:
    try:
        return MediatorProfile.objects.select_related("user", "centre").get(pk=mediator_pk)
    except (MediatorProfile.DoesNotExist, ValueError):
        raise Http404 from None


def get_profile_for_manager(user: AnyUser, mediator_pk: int | str) -> MediatorProfile:
    """The profile, for a case manager of its centre; 404 for everyone else (even the mediator)."""
    profile = _profile_or_404(mediator_pk)
    if not _is_manager_of(user, profile.centre_id):
        raise Http404
    return profile


def get_profile_for_viewer(user: AnyUser, mediator_pk: int | str) -> MediatorProfile:
    """The profile, for a case manager of its centre or the mediator themself; 404 otherwise."""
    profile = _profile_or_404(mediator_pk)
    if not (_is_manager_of(user, profile.centre_id) or _is_the_mediator(user, profile)):
        raise Http404
    return profile


def get_own_profile(user: AnyUser, mediator_pk: int | str) -> MediatorProfile:
    """The profile, only for the mediator it belongs to (availability is theirs to keep)."""
    profile = _profile_or_404(mediator_pk)
    if not _is_the_mediator(user, profile):
        raise Http404
    return profile


def profile_of_user(user: AnyUser) -> MediatorProfile:
    """The signed-in mediator's own profile, or 404."""
    if not user.is_authenticated or not user.is_active or user.role != Role.MEDIATOR:
        raise Http404
    profile = MediatorProfile.objects.filter(user=user).first()
    if profile is None:
        raise Http404
    return profile


def get_qualification_for_manager(user: AnyUser, qualification_pk: int | str) -> Qualification:
    try:
        qualification = Qualification.objects.select_related("profile__centre").get(pk=qualification_pk)
    except (Qualification.DoesNotExist, ValueError):
        raise Http404 from None
    if not _is_manager_of(user, qualification.profile.centre_id):
        raise Http404
    return qualification


def get_relationship_for_manager(user: AnyUser, relationship_pk: int | str) -> DeclaredRelationship:
    try:
        relationship = DeclaredRelationship.objects.select_related("profile__centre").get(pk=relationship_pk)
    except (DeclaredRelationship.DoesNotExist, ValueError):
        raise Http404 from None
    if not _is_manager_of(user, relationship.profile.centre_id):
        raise Http404
    return relationship


def get_unavailability_for_owner(user: AnyUser, unavailable_pk: int | str) -> Unavailability:
    try:
        period = Unavailability.objects.select_related("profile").get(pk=unavailable_pk)
    except (Unavailability.DoesNotExist, ValueError):
        raise Http404 from None
    if not _is_the_mediator(user, period.profile):
        raise Http404
    return period


def get_public_profile(mediator_pk: int | str) -> MediatorProfile:
    """A profile as the public roster shows it; 404 unless it is on the roster today."""
    try:
        return public_profiles().get(pk=mediator_pk)
    except (MediatorProfile.DoesNotExist, ValueError):
        raise Http404 from None


# --- profile services ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    """A mediator account opened by staff; it has no password until the mediator sets one."""

    username: str
    real_name: str
    phone: str = ""
    email: str = ""


def _lock_profile(profile: MediatorProfile) -> MediatorProfile:
    return MediatorProfile.objects.select_for_update().select_related("user", "centre").get(pk=profile.pk)


def _sync_languages(profile: MediatorProfile, languages: list[str]) -> bool:
    wanted = set(languages)
    unknown = wanted - set(Language.values)
    if unknown:
        raise CaseError(_("未知的语言：%(codes)s。") % {"codes": "、".join(sorted(unknown))})
    current = set(profile.languages.values_list("language", flat=True))
    profile.languages.filter(language__in=current - wanted).delete()
    MediatorLanguage.objects.bulk_create(
        [MediatorLanguage(profile=profile, language=code) for code in sorted(wanted - current)]
    )
    return wanted != current


def check_expertise(category: str, issue_type: str) -> None:
    """Raise CaseError unless the pair names a category and, if given, one of its issue types."""
    if category not in ProductCategory.values:
        raise CaseError(_("未知的产品类别：%(code)s。") % {"code": category})
    if issue_type and issue_type not in dict(ISSUE_TYPES.get(category, [])):
        raise CaseError(_("问题类型与所选产品类别不符。"))


def _sync_expertise(profile: MediatorProfile, expertise: list[tuple[str, str]]) -> bool:
    wanted = set(expertise)
    for category, issue_type in wanted:
        check_expertise(category, issue_type)
    current = {(e.product_category, e.issue_type): e.pk for e in profile.expertise.all()}
    Expertise.objects.filter(pk__in=[pk for pair, pk in current.items() if pair not in wanted]).delete()
    Expertise.objects.bulk_create(
        [
            Expertise(profile=profile, product_category=category, issue_type=issue_type)
            for category, issue_type in sorted(wanted - set(current))
        ]
    )
    return wanted != set(current)


def _check_profile_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise CaseError(_("不能在此修改：%(fields)s。") % {"fields": "、".join(sorted(unknown))})
    if fields.get("charges_fees") and not (fields.get("fee_note") or "").strip():
        # 在线调解规则 Art 5: the roster must say whether fees are charged, and on what basis.
        raise CaseError(_("收费的调解员须填写收费说明。"))


def _open_mediator_account(centre: Organisation, account: NewAccount) -> User:
    if User.objects.filter(username=account.username).exists():
        raise CaseError(_("该用户名已被使用。"))
    user = User(
        username=account.username,
        role=Role.MEDIATOR,
        organisation=centre,
        real_name=account.real_name,
        phone=account.phone,
        email=account.email,
    )
    # Staff never learn the password: the mediator sets one through the password reset flow.
    user.set_unusable_password()
    user.save()
    permissions.sync_user_groups(user)
    return user


def create_profile(
    centre: Organisation,
    *,
    actor: User,
    fields: dict[str, Any],
    user: User | None = None,
    new_account: NewAccount | None = None,
    languages: list[str] | tuple[str, ...] = (),
    expertise: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    ip: str | None = None,
) -> MediatorProfile:
    """Put a mediator on the centre's roster: an existing mediator account of the centre, or a new one."""
    if centre.kind != Organisation.Kind.CENTRE:
        raise CaseError(_("调解员只能属于调解中心。"))
    _check_profile_fields(fields)
    with transaction.atomic():
        if user is not None and new_account is None:
            user = User.objects.select_for_update().get(pk=user.pk)
            if user.role != Role.MEDIATOR or user.organisation_id != centre.pk:
                raise CaseError(_("只能关联本中心的调解员账户。"))
            if MediatorProfile.objects.filter(user=user).exists():
                raise CaseError(_("该账户已有调解员档案。"))
        elif user is None and new_account is not None:
            user = _open_mediator_account(centre, new_account)
        else:
            raise CaseError(_("请选择已有的调解员账户，或填写新账户信息（二者选一）。"))
        profile = MediatorProfile.objects.create(user=user, centre=centre, **fields)
        _sync_languages(profile, list(languages))
        _sync_expertise(profile, list(expertise))
        ledger.record(
            "mediators.profile.created",
            actor=actor,
            ip=ip,
            data={
                "profile": profile.pk,
                "user": user.pk,
                "account_created": new_account is not None,
                "fields": fields,
                "languages": sorted(languages),
                "expertise": sorted(f"{c}.{i}" if i else c for c, i in expertise),
            },
        )
    return profile


def update_profile(
    profile: MediatorProfile,
    *,
    actor: User,
    fields: dict[str, Any],
    languages: list[str] | None = None,
    expertise: list[tuple[str, str]] | None = None,
    ip: str | None = None,
) -> MediatorProfile:
    """Change the profile's fields, languages and expertise; the ledger keeps old and new values."""
    _check_profile_fields({**{name: getattr(profile, name) for name in PROFILE_FIELDS}, **fields})
    with transaction.atomic():
        locked = _lock_profile(profile)
        changes = {
            name: [getattr(locked, name), value] for name, value in fields.items() if getattr(locked, name) != value
        }
        for name, (_old, new) in changes.items():
            setattr(locked, name, new)
        if changes:
            locked.save(update_fields=[*changes, "updated_at"])
        data: dict[str, Any] = {"profile": locked.pk, "changes": changes}
        if languages is not None and _sync_languages(locked, languages):
            data["languages"] = sorted(languages)
        if expertise is not None and _sync_expertise(locked, expertise):
            data["expertise"] = sorted(f"{c}.{i}" if i else c for c, i in expertise)
        if changes or "languages" in data or "expertise" in data:
            ledger.record("mediators.profile.updated", actor=actor, ip=ip, data=data)
    profile.refresh_from_db()
    return profile


def set_profile_status(
    profile: MediatorProfile, *, actor: User, status: str, reason: str, ip: str | None = None
) -> MediatorProfile:
    """Activate, suspend or retire a mediator; only active mediators are assignable or public."""
    if status not in MediatorProfile.Status.values:
        raise CaseError(_("未知的状态。"))
    with transaction.atomic():
        locked = _lock_profile(profile)
        if locked.status == status:
            raise CaseError(_("该调解员的状态已是「%(status)s」。") % {"status": MediatorProfile.Status(status).label})
        old = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        ledger.record(
            "mediators.profile.status_changed",
            actor=actor,
            ip=ip,
            data={"profile": locked.pk, "from": old, "to": status, "reason": reason},
        )
    profile.refresh_from_db()
    return profile


def _model_data(instance: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in names}


QUALIFICATION_FIELDS = ["name", "number", "issued_by", "expires_on"]
RELATIONSHIP_FIELDS = ["kind", "organisation_id", "person_name", "start_date", "end_date", "description"]
UNAVAILABILITY_FIELDS = ["start_date", "end_date", "reason"]


def add_qualification(
    profile: MediatorProfile, *, actor: User, fields: dict[str, Any], ip: str | None = None
) -> Qualification:
    with transaction.atomic():
        qualification = Qualification.objects.create(profile=profile, **fields)
        ledger.record(
            "mediators.qualification.added",
            actor=actor,
            ip=ip,
            data={
                "profile": profile.pk,
                "qualification": qualification.pk,
                **_model_data(qualification, QUALIFICATION_FIELDS),
            },
        )
    return qualification


def update_qualification(
    qualification: Qualification, *, actor: User, fields: dict[str, Any], ip: str | None = None
) -> Qualification:
    with transaction.atomic():
        locked = Qualification.objects.select_for_update().get(pk=qualification.pk)
        changes = {
            name: [getattr(locked, name), value] for name, value in fields.items() if getattr(locked, name) != value
        }
        for name, (_old, new) in changes.items():
            setattr(locked, name, new)
        if changes:
            locked.save(update_fields=list(changes))
            ledger.record(
                "mediators.qualification.updated",
                actor=actor,
                ip=ip,
                data={"profile": locked.profile_id, "qualification": locked.pk, "changes": changes},
            )
    return locked


def remove_qualification(qualification: Qualification, *, actor: User, ip: str | None = None) -> None:
    with transaction.atomic():
        data = {
            "profile": qualification.profile_id,
            "qualification": qualification.pk,
            **_model_data(qualification, QUALIFICATION_FIELDS),
        }
        qualification.delete()
        ledger.record("mediators.qualification.removed", actor=actor, ip=ip, data=data)


def _check_relationship(fields: dict[str, Any]) -> None:
    start, end = fields.get("start_date"), fields.get("end_date")
    if start and end and end < start:
        raise CaseError(_("结束日期不能早于开始日期。"))


def declare_relationship(
    profile: MediatorProfile, *, actor: User, fields: dict[str, Any], ip: str | None = None
) -> DeclaredRelationship:
    """Record a relationship that may compromise neutrality (在线调解规则 Art 13), by staff or the mediator."""
    _check_relationship(fields)
    with transaction.atomic():
        relationship = DeclaredRelationship.objects.create(profile=profile, **fields)
        ledger.record(
            "mediators.relationship.declared",
            actor=actor,
            ip=ip,
            data={
                "profile": profile.pk,
                "relationship": relationship.pk,
                "by_mediator": actor.pk == profile.user_id,
                **_model_data(relationship, RELATIONSHIP_FIELDS),
            },
        )
    return relationship


def update_relationship(
    relationship: DeclaredRelationship, *, actor: User, fields: dict[str, Any], ip: str | None = None
) -> DeclaredRelationship:
    _check_relationship(fields)
    with transaction.atomic():
        locked = DeclaredRelationship.objects.select_for_update().get(pk=relationship.pk)
        before = _model_data(locked, RELATIONSHIP_FIELDS)
        for name, value in fields.items():
            setattr(locked, name, value)
        after = _model_data(locked, RELATIONSHIP_FIELDS)
        changes = {name: [before[name], after[name]] for name in RELATIONSHIP_FIELDS if before[name] != after[name]}
        if changes:
            locked.save()
            ledger.record(
                "mediators.relationship.updated",
                actor=actor,
                ip=ip,
                data={"profile": locked.profile_id, "relationship": locked.pk, "changes": changes},
            )
    return locked


def remove_relationship(relationship: DeclaredRelationship, *, actor: User, ip: str | None = None) -> None:
    with transaction.atomic():
        data = {
            "profile": relationship.profile_id,
            "relationship": relationship.pk,
            **_model_data(relationship, RELATIONSHIP_FIELDS),
        }
        relationship.delete()
        ledger.record("mediators.relationship.removed", actor=actor, ip=ip, data=data)


def add_unavailability(
    profile: MediatorProfile,
    *,
    actor: User,
    start_date: datetime.date,
    end_date: datetime.date,
    reason: str = "",
    ip: str | None = None,
) -> Unavailability:
    if end_date < start_date:
        raise CaseError(_("结束日期不能早于开始日期。"))
    with transaction.atomic():
        period = Unavailability.objects.create(profile=profile, start_date=start_date, end_date=end_date, reason=reason)
        ledger.record(
            "mediators.unavailability.added",
            actor=actor,
            ip=ip,
            data={"profile": profile.pk, "unavailability": period.pk, **_model_data(period, UNAVAILABILITY_FIELDS)},
        )
    return period


def remove_unavailability(period: Unavailability, *, actor: User, ip: str | None = None) -> None:
    with transaction.atomic():
        data = {"profile": period.profile_id, "unavailability": period.pk, **_model_data(period, UNAVAILABILITY_FIELDS)}
        period.delete()
        ledger.record("mediators.unavailability.removed", actor=actor, ip=ip, data=data)


# --- demo data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoProfile:
    display_name_fallback: str
    title: str
    employment: str
    region: str
    max_caseload: int
    charges_fees: bool
    fee_note: str
    biography: str
    languages: tuple[str, ...]
    expertise: tuple[tuple[str, str], ...]
    qualification: str
    issued_by: str


DEMO_PROFILES = [
    DemoProfile(
        display_name_fallback="调解员一",
        title="退休法官",
        employment=MediatorProfile.Employment.FULL_TIME,
        region="广东省广州市",
        max_caseload=12,
        charges_fees=False,
        fee_note="",
        biography="曾任基层人民法院民商事审判庭庭长二十年，擅长信用卡、个人贷款及催收纠纷调解。",
        languages=(Language.MANDARIN, Language.CANTONESE),
        expertise=(
            (ProductCategory.CREDIT_CARD, ""),
            (ProductCategory.PERSONAL_LOAN, "interest_fees"),
            (ProductCategory.DEBT_COLLECTION, "harassment"),
        ),
        qualification="人民调解员资格证书",
        issued_by="广东省司法厅",
    ),
    DemoProfile(
        display_name_fallback="调解员二",
        title="执业律师、前银行合规经理",
        employment=MediatorProfile.Employment.PART_TIME,
        region="广东省深圳市",
        max_caseload=6,
        charges_fees=True,
        fee_note="标的额 5 万元以上的案件按调解中心收费标准收取调解费，小额案件免费。",
        biography="执业律师，曾在商业银行从事合规与消费者权益保护工作，熟悉理财、保险销售及支付结算纠纷。",
        languages=(Language.MANDARIN, Language.CANTONESE, Language.ENGLISH),
        expertise=(
            (ProductCategory.WEALTH_MANAGEMENT, ""),
            (ProductCategory.INSURANCE_SALES, "mis_selling"),
            (ProductCategory.PAYMENT, ""),
        ),
        qualification="律师执业证",
        issued_by="广东省司法厅",
    ),
]


def load_demo_pool(centre: Organisation, mediators: list[User], institutions: list[Organisation]) -> None:
    """Give the demo mediators rich profiles; a second run changes nothing.

    Every mediator gets languages (including 粤语), expertise, a certificate without expiry and one
    expiring next year. The last mediator in the list — not the first, who handles the demo cases,
    unless there is only one — declares past employment with ``institutions[0]`` that ended two years
    ago. Profiles are created directly (no ledger entries): this is seed data, not a staff action.
    """
    today = timezone.localdate()
    with transaction.atomic():
        for index, user in enumerate(mediators):
            spec = DEMO_PROFILES[index % len(DEMO_PROFILES)]
            profile, created = MediatorProfile.objects.get_or_create(
                user=user,
                defaults={
                    "centre": centre,
                    "display_name": user.real_name or spec.display_name_fallback,
                    "title": spec.title,
                    "employment": spec.employment,
                    "region": spec.region,
                    "max_caseload": spec.max_caseload,
                    "charges_fees": spec.charges_fees,
                    "fee_note": spec.fee_note,
                    "biography": spec.biography,
                },
            )
            if not created:
                continue
            MediatorLanguage.objects.bulk_create(
                [MediatorLanguage(profile=profile, language=c) for c in spec.languages]
            )
            Expertise.objects.bulk_create(
                [Expertise(profile=profile, product_category=c, issue_type=i) for c, i in spec.expertise]
            )
            Qualification.objects.create(
                profile=profile,
                name=spec.qualification,
                number=f"DEMO-{uuid.uuid5(uuid.NAMESPACE_OID, user.username).hex[:8].upper()}",
                issued_by=spec.issued_by,
                expires_on=None,
            )
            Qualification.objects.create(
                profile=profile,
                name="金融纠纷调解员培训合格证书",
                issued_by=centre.name,
                expires_on=datetime.date(today.year + 1, 6, 30),
            )
            if institutions and index == len(mediators) - 1:
                DeclaredRelationship.objects.create(
                    profile=profile,
                    kind=DeclaredRelationship.Kind.PAST_EMPLOYMENT,
                    organisation=institutions[0],
                    start_date=datetime.date(today.year - 8, 3, 1),
                    end_date=datetime.date(today.year - 2, today.month, 1),
                    description="曾在该行个人金融部任职。",
                )
