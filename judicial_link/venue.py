"""Which court a joint application for judicial confirmation may go to (民事诉讼法 Art 205).

Art 205: the parties apply jointly within 30 days of the agreement taking effect,
(1) when a people's court invited the mediation (委派/先行调解), to the court that invited it;
(2) when the mediation organisation mediated on its own, to the basic court of a party's
    domicile, of the place of the subject matter, or of the organisation's seat.
司法确认程序规定 Art 2 says the same of delegated cases: the delegating court has jurisdiction.
Item (1) is exclusive: a delegated case goes to its delegating court (whatever its level) and to
no other. Item (2)'s proviso (a dispute that belongs to an intermediate court at first instance
goes to that intermediate court) is not modelled: the level-jurisdiction thresholds are far above
the amounts of consumer disputes, so an intermediate or high court is refused for item (2).

How a court "covers" a place. The court directory is ``Organisation`` of kind court; its
``region`` is a full administrative name written province first, e.g. "广东省广州市天河区". A
basic court covers the region it is registered with and everything below it: a place is covered
when its region string begins with the court's. Full names end in their level word (省, 市, 区,
县, 旗, …), so such a prefix is the court's own area or an area inside it, never a neighbour.
A place recorded less precisely than the court ("广东省广州市" against a district court) is not
covered: which district it lies in is unknown. So every organisation should be registered down
to its district or county, and a court without a region never qualifies on a place.

What the data holds. The institution is a party and its domicile is its seat: the region of the
organisation named on the case (a branch when the complaint was against a branch; a licensed
bank branch can be a party in its own name, 民诉法解释 Art 52(5)). The centre's seat is its
region. The models record neither a consumer's domicile (``User`` has no address or region) nor
the place of a subject matter (``Case`` has no such field), so callers pass them in
``VenueFacts`` (the application form asks each applicant for their 住所 anyway); without them
those grounds are not assessed and ``unassessed_grounds`` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from mediation import audience
from mediation.models import Case, Organisation, User
from mediation.services import CaseError

DELEGATING_COURT = "delegating_court"
CONSUMER_DOMICILE = "consumer_domicile"
INSTITUTION_DOMICILE = "institution_domicile"
SUBJECT_MATTER = "subject_matter"
CENTRE_SEAT = "centre_seat"
# Art 205(2) grounds, in the order options list them.
PLACE_GROUNDS = (CONSUMER_DOMICILE, INSTITUTION_DOMICILE, SUBJECT_MATTER, CENTRE_SEAT)


@dataclass(frozen=True)
class VenueFacts:
    """Places the case does not record, as the applicants state them (full region names)."""

    consumer_domiciles: Mapping[int, str] = field(default_factory=dict)  # consumer's user id → region
    subject_matter_region: str = ""


@dataclass(frozen=True)
class VenueOption:
    court: Organisation
    grounds: list[str]  # machine codes, see PLACE_GROUNDS and DELEGATING_COURT
    reasons: list[str]  # one sentence per ground, citing Art 205


@dataclass(frozen=True)
class UnassessedGround:
    """An Art 205 ground the platform could not apply because the place is not on file."""

    ground: str
    message: str


class VenueError(CaseError):
    """The court may not receive this case's application; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Place:
    ground: str
    region: str
    reason: str


def normalise_region(region: str) -> str:
    return "".join(region.split())


def covers(court_region: str, place_region: str) -> bool:
    """Whether a court registered with ``court_region`` has ``place_region`` in its area."""
    court_region, place_region = normalise_region(court_region), normalise_region(place_region)
    return bool(court_region) and place_region.startswith(court_region)


def _consumers(case: Case) -> list[User]:
    return sorted(audience.consumers(case), key=lambda user: user.pk)


def _places(case: Case, facts: VenueFacts) -> list[_Place]:
    """Every Art 205(2) place known for the case, in ground order."""
    places: list[_Place] = []
    for consumer in _consumers(case):
        region = normalise_region(facts.consumer_domiciles.get(consumer.pk, ""))
        if region:
            reason = _(
                "该院是投诉人%(name)s住所地（%(region)s）的基层人民法院（民事诉讼法第二百零五条第二项：当事人住所地）。"
            ) % {"name": consumer.display_name, "region": region}
            places.append(_Place(CONSUMER_DOMICILE, region, reason))
    institution = case.institution
    if normalise_region(institution.region):
        reason = _(
            "该院是被投诉机构%(name)s住所地（%(region)s）的基层人民法院（民事诉讼法第二百零五条第二项：当事人住所地）。"
        ) % {"name": institution.name, "region": normalise_region(institution.region)}
        places.append(_Place(INSTITUTION_DOMICILE, normalise_region(institution.region), reason))
    subject_matter = normalise_region(facts.subject_matter_region)
    if subject_matter:
        reason = _("该院是标的物所在地（%(region)s）的基层人民法院（民事诉讼法第二百零五条第二项：标的物所在地）。") % {
            "region": subject_matter
        }
        places.append(_Place(SUBJECT_MATTER, subject_matter, reason))
    centre = case.centre
    if normalise_region(centre.region):
        reason = _(
            "该院是调解组织%(name)s所在地（%(region)s）的基层人民法院（民事诉讼法第二百零五条第二项：调解组织所在地）。"
        ) % {"name": centre.name, "region": normalise_region(centre.region)}
        places.append(_Place(CENTRE_SEAT, normalise_region(centre.region), reason))
    return places


def _delegated_option(court: Organisation) -> VenueOption:
    reason = _(
        "本案由该院委派调解，依照民事诉讼法第二百零五条第一项，应向作出委派的人民法院申请司法确认，不能向其他法院申请。"
    )
    return VenueOption(court=court, grounds=[DELEGATING_COURT], reasons=[reason])


def _option(court: Organisation, places: Iterable[_Place]) -> VenueOption | None:
    """One option per court: every ground it meets, each ground once (several consumers share one)."""
    grounds: list[str] = []
    reasons: list[str] = []
    for place in places:
        if not covers(court.region, place.region):
            continue
        if place.ground in grounds:
            reasons[grounds.index(place.ground)] += place.reason
        else:
            grounds.append(place.ground)
            reasons.append(place.reason)
    return VenueOption(court=court, grounds=grounds, reasons=reasons) if grounds else None


def _court_order(court: Organisation) -> tuple[bool, str, int]:
    # By court code; courts the directory has no code for go last, by id, so the order never varies.
    return (not court.court_code, court.court_code, court.pk)


def _prefixes(region: str) -> set[str]:
    return {region[:end] for end in range(1, len(region) + 1)}


def allowed_courts(case: Case, *, facts: VenueFacts | None = None) -> list[VenueOption]:
    """The courts this case's application may go to, with the grounds; delegating court first, then by code."""
    if case.delegating_court is not None:
        return [_delegated_option(case.delegating_court)]
    places = _places(case, facts or VenueFacts())
    if not places:
        return []
    # A court covers a place when its region is a prefix of the place's, so only those regions can match.
    regions = set().union(*(_prefixes(place.region) for place in places))
    courts = Organisation.objects.filter(
        kind=Organisation.Kind.COURT, court_level=Organisation.CourtLevel.BASIC, region__in=regions
    )
    return [option for court in sorted(courts, key=_court_order) if (option := _option(court, places))]


def unassessed_grounds(case: Case, *, facts: VenueFacts | None = None) -> list[UnassessedGround]:
    """The Art 205(2) grounds left out for lack of data, each with a sentence saying what is missing."""
    if case.delegating_court is not None:
        return []
    facts = facts or VenueFacts()
    missing: list[UnassessedGround] = []
    for consumer in _consumers(case):
        if not normalise_region(facts.consumer_domiciles.get(consumer.pk, "")):
            message = _("未提供投诉人%(name)s的住所地，未按其住所地确定可申请的法院。") % {
                "name": consumer.display_name
            }
            missing.append(UnassessedGround(CONSUMER_DOMICILE, message))
    if not normalise_region(case.institution.region):
        message = _("被投诉机构%(name)s未登记所在地区，未按其住所地确定可申请的法院。") % {
            "name": case.institution.name
        }
        missing.append(UnassessedGround(INSTITUTION_DOMICILE, message))
    if not normalise_region(facts.subject_matter_region):
        message = _("未提供标的物所在地，未按标的物所在地确定可申请的法院。")
        missing.append(UnassessedGround(SUBJECT_MATTER, message))
    if not normalise_region(case.centre.region):
        message = _("调解组织%(name)s未登记所在地区，未按调解组织所在地确定可申请的法院。") % {"name": case.centre.name}
        missing.append(UnassessedGround(CENTRE_SEAT, message))
    return missing


def check_venue(case: Case, court: Organisation, *, facts: VenueFacts | None = None) -> VenueOption:
    """The option for ``court``, or ``VenueError`` saying why Art 205 does not allow it."""
    if court.kind != Organisation.Kind.COURT:
        raise VenueError("not_a_court", _("%(name)s不是人民法院，不能受理司法确认申请。") % {"name": court.name})
    delegating = case.delegating_court
    if delegating is not None:
        if court.pk == delegating.pk:
            return _delegated_option(delegating)
        raise VenueError(
            "delegated_elsewhere",
            _(
                "本案由%(delegating)s委派调解，依照民事诉讼法第二百零五条第一项，司法确认申请只能向该院提出，不能向%(court)s提出。"
            )
            % {"delegating": delegating.name, "court": court.name},
        )
    if court.court_level != Organisation.CourtLevel.BASIC:
        level = court.get_court_level_display() if court.court_level else _("未登记层级的法院")
        raise VenueError(
            "not_basic_court",
            _(
                "%(court)s是%(level)s。本案由调解组织自行调解，依照民事诉讼法第二百零五条第二项，应向基层人民法院申请司法确认。"
            )
            % {"court": court.name, "level": level},
        )
    if not normalise_region(court.region):
        raise VenueError(
            "court_region_unknown",
            _("法院名录中没有登记%(court)s的所在地区，无法确定其辖区，请联系平台管理员补充。") % {"court": court.name},
        )
    places = _places(case, facts or VenueFacts())
    option = _option(court, places)
    if option is None:
        listed = _("；").join(
            _("%(ground)s：%(region)s") % {"ground": ground_label(place.ground), "region": place.region}
            for place in places
        )
        raise VenueError(
            "no_connection",
            _(
                "%(court)s（%(region)s）不是本案当事人住所地、标的物所在地或调解组织所在地的基层人民法院"
                "（本案：%(places)s），依照民事诉讼法第二百零五条第二项不能受理本案的司法确认申请。"
            )
            % {"court": court.name, "region": normalise_region(court.region), "places": listed or _("均未登记")},
        )
    return option


def ground_label(ground: str) -> str:
    """The ground in words, e.g. for a badge beside each court offered."""
    labels = {
        DELEGATING_COURT: _("委派调解的法院"),
        CONSUMER_DOMICILE: _("投诉人住所地"),
        INSTITUTION_DOMICILE: _("被投诉机构住所地"),
        SUBJECT_MATTER: _("标的物所在地"),
        CENTRE_SEAT: _("调解组织所在地"),
    }
    return labels[ground]
