"""Where a judicial-confirmation application may go (民事诉讼法 Art 205): the options and the refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from judicial_link.venue import (
    CENTRE_SEAT,
    CONSUMER_DOMICILE,
    DELEGATING_COURT,
    INSTITUTION_DOMICILE,
    SUBJECT_MATTER,
    VenueError,
    VenueFacts,
    allowed_courts,
    check_venue,
    covers,
    unassessed_grounds,
)
from mediation import services
from mediation.models import Case, CaseParticipant, Organisation, User
from tests import factories

BASIC = Organisation.CourtLevel.BASIC


def court(name: str, region: str, code: str, level: str = BASIC) -> Organisation:
    return factories.organisation(Organisation.Kind.COURT, name, court_level=level, court_code=code, region=region)


@pytest.fixture
def courts(db: None) -> dict[str, Organisation]:
    # Created out of code order on purpose: options come back sorted by court code.
    return {
        "tianhe": court("广州市天河区人民法院", "广东省广州市天河区", "J0106"),
        "yuexiu": court("广州市越秀区人民法院", "广东省广州市越秀区", "J0104"),
        "haizhu": court("广州市海珠区人民法院", "广东省广州市海珠区", "J0105"),
        "intermediate": court("广州市中级人民法院", "广东省广州市", "J0100", Organisation.CourtLevel.INTERMEDIATE),
        "hangzhou": court("杭州市西湖区人民法院", "浙江省杭州市西湖区", "K0106"),
    }


@pytest.fixture
def tianhe_branch(bank: Organisation) -> Organisation:
    return factories.organisation(
        Organisation.Kind.INSTITUTION, "华南商业银行天河支行", parent=bank, region="广东省广州市天河区"
    )


@pytest.fixture
def yuexiu_centre(db: None) -> Organisation:
    return factories.organisation(Organisation.Kind.CENTRE, "越秀金融纠纷调解中心", region="广东省广州市越秀区")


@pytest.fixture
def district_case(make_case: Callable[..., Case], tianhe_branch: Organisation, yuexiu_centre: Organisation) -> Case:
    """The branch sits in Tianhe, the centre in Yuexiu."""
    return make_case(institution=tianhe_branch, centre=yuexiu_centre)


def delegate(case: Case, to: Organisation) -> Case:
    # No service delegates a case yet (court intake is later in issue 6); set the recorded fact directly.
    Case.objects.filter(pk=case.pk).update(delegating_court=to)
    return Case.objects.get(pk=case.pk)


def test_a_delegated_case_goes_only_to_the_delegating_court_whatever_its_level(
    district_case: Case, courts: dict[str, Organisation]
) -> None:
    case = delegate(district_case, courts["intermediate"])

    options = allowed_courts(case, facts=VenueFacts(subject_matter_region="广东省广州市海珠区"))

    assert [(o.court, o.grounds) for o in options] == [(courts["intermediate"], [DELEGATING_COURT])]
    assert "委派" in options[0].reasons[0] and "第二百零五条第一项" in options[0].reasons[0]
    assert check_venue(case, courts["intermediate"]).grounds == [DELEGATING_COURT]
    assert unassessed_grounds(case) == []
    # The branch's own basic court would qualify for an undelegated case, but Art 205(1) is exclusive.
    with pytest.raises(VenueError) as refused:
        check_venue(case, courts["tianhe"])
    assert refused.value.code == "delegated_elsewhere"
    assert "广州市中级人民法院委派调解" in str(refused.value)
    assert "不能向广州市天河区人民法院提出" in str(refused.value)


def test_basic_courts_of_each_party_and_of_the_centre_are_offered_with_their_reasons(
    district_case: Case, courts: dict[str, Organisation], consumer: User
) -> None:
    facts = VenueFacts(consumer_domiciles={consumer.pk: "广东省广州市海珠区江南中街道"})

    options = allowed_courts(district_case, facts=facts)

    assert [(o.court.court_code, o.grounds) for o in options] == [
        ("J0104", [CENTRE_SEAT]),
        ("J0105", [CONSUMER_DOMICILE]),
        ("J0106", [INSTITUTION_DOMICILE]),
    ]
    yuexiu, haizhu, tianhe = (o.reasons for o in options)
    assert yuexiu == [
        "该院是调解组织越秀金融纠纷调解中心所在地（广东省广州市越秀区）的基层人民法院"
        "（民事诉讼法第二百零五条第二项：调解组织所在地）。"
    ]
    assert haizhu == [
        "该院是投诉人张三住所地（广东省广州市海珠区江南中街道）的基层人民法院"
        "（民事诉讼法第二百零五条第二项：当事人住所地）。"
    ]
    assert "被投诉机构华南商业银行天河支行住所地（广东省广州市天河区）" in tianhe[0]
    for court_name in ("tianhe", "yuexiu", "haizhu"):
        assert check_venue(district_case, courts[court_name], facts=facts) in options


def test_one_option_per_court_lists_every_ground_it_meets(
    make_case: Callable[..., Case], tianhe_branch: Organisation, courts: dict[str, Organisation], consumer: User
) -> None:
    centre = factories.organisation(Organisation.Kind.CENTRE, "天河调解中心", region="广东省广州市天河区")
    case = make_case(institution=tianhe_branch, centre=centre)
    facts = VenueFacts(
        consumer_domiciles={consumer.pk: "广东省广州市天河区"}, subject_matter_region="广东省广州市天河区石牌街道"
    )

    options = allowed_courts(case, facts=facts)

    assert len(options) == 1
    assert options[0].court == courts["tianhe"]
    assert options[0].grounds == [CONSUMER_DOMICILE, INSTITUTION_DOMICILE, SUBJECT_MATTER, CENTRE_SEAT]
    assert len(options[0].reasons) == 4
    assert "标的物所在地（广东省广州市天河区石牌街道）" in options[0].reasons[2]


def test_consumers_domiciled_in_the_same_area_share_one_ground(
    district_case: Case, courts: dict[str, Organisation], consumer: User, other_consumer: User, case_manager: User
) -> None:
    services.add_participant(district_case, other_consumer, CaseParticipant.Capacity.CONSUMER, actor=case_manager)
    facts = VenueFacts(consumer_domiciles={consumer.pk: "广东省广州市海珠区", other_consumer.pk: "广东省广州市海珠区"})

    option = check_venue(district_case, courts["haizhu"], facts=facts)

    assert option.grounds == [CONSUMER_DOMICILE]
    assert "张三" in option.reasons[0] and "李四" in option.reasons[0]


def test_places_the_case_does_not_record_are_reported_as_unassessed(
    district_case: Case, courts: dict[str, Organisation], consumer: User
) -> None:
    missing = unassessed_grounds(district_case)
    assert [m.ground for m in missing] == [CONSUMER_DOMICILE, SUBJECT_MATTER]
    assert "张三" in missing[0].message

    # Without the consumer's domicile the Haizhu court is not offered; with it, it is.
    assert courts["haizhu"] not in [o.court for o in allowed_courts(district_case)]
    facts = VenueFacts(consumer_domiciles={consumer.pk: "广东省广州市海珠区"}, subject_matter_region="广东省广州市")
    assert [m.ground for m in unassessed_grounds(district_case, facts=facts)] == []
    assert courts["haizhu"] in [o.court for o in allowed_courts(district_case, facts=facts)]


def test_an_intermediate_court_is_refused_for_a_case_the_centre_mediated_on_its_own(
    district_case: Case, courts: dict[str, Organisation]
) -> None:
    assert courts["intermediate"] not in [o.court for o in allowed_courts(district_case)]
    with pytest.raises(VenueError) as refused:
        check_venue(district_case, courts["intermediate"])
    assert refused.value.code == "not_basic_court"
    assert str(refused.value) == (
        "广州市中级人民法院是中级人民法院。本案由调解组织自行调解，"
        "依照民事诉讼法第二百零五条第二项，应向基层人民法院申请司法确认。"
    )


def test_a_court_of_another_province_is_refused_naming_the_places_that_count(
    district_case: Case, courts: dict[str, Organisation]
) -> None:
    with pytest.raises(VenueError) as refused:
        check_venue(district_case, courts["hangzhou"])
    assert isinstance(refused.value, services.CaseError)
    assert refused.value.code == "no_connection"
    message = str(refused.value)
    assert message.startswith("杭州市西湖区人民法院（浙江省杭州市西湖区）不是本案当事人住所地")
    assert "被投诉机构住所地：广东省广州市天河区" in message
    assert "调解组织所在地：广东省广州市越秀区" in message
    assert "第二百零五条第二项" in message


def test_a_place_known_only_to_the_city_is_not_inside_a_district_court(
    submitted_case: Case, courts: dict[str, Organisation]
) -> None:
    # The conftest bank and centre are registered as "广东省广州市": which district is unknown.
    assert allowed_courts(submitted_case) == []
    with pytest.raises(VenueError) as refused:
        check_venue(submitted_case, courts["tianhe"])
    assert refused.value.code == "no_connection"


def test_organisations_that_are_not_courts_or_have_no_region_are_refused(
    district_case: Case, tianhe_branch: Organisation
) -> None:
    with pytest.raises(VenueError) as refused:
        check_venue(district_case, tianhe_branch)
    assert refused.value.code == "not_a_court"

    nowhere = court("无地区法院", "", "X0001")
    with pytest.raises(VenueError) as refused:
        check_venue(district_case, nowhere)
    assert refused.value.code == "court_region_unknown"
    assert nowhere not in [o.court for o in allowed_courts(district_case)]


def test_courts_without_a_code_come_after_the_coded_ones(district_case: Case, courts: dict[str, Organisation]) -> None:
    uncoded = court("天河区第二人民法院", "广东省广州市天河区", "")
    assert [o.court for o in allowed_courts(district_case)] == [courts["yuexiu"], courts["tianhe"], uncoded]


@pytest.mark.parametrize(
    ("court_region", "place", "expected"),
    [
        ("广东省广州市天河区", "广东省广州市天河区", True),
        ("广东省广州市天河区", "广东省广州市天河区珠江新城街道", True),
        ("广东省广州市天河区", " 广东省 广州市天河区 ", True),
        ("广东省广州市天河区", "广东省广州市", False),
        ("广东省广州市天河区", "广东省广州市海珠区", False),
        ("", "广东省广州市天河区", False),
        ("广东省广州市天河区", "", False),
    ],
)
def test_a_court_covers_its_own_region_and_everything_below_it(court_region: str, place: str, expected: bool) -> None:
    assert covers(court_region, place) is expected
