"""Who reaches which case: ``cases_for_user`` lists exactly what ``get_case_for_user`` opens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from mediation import permissions, services
from mediation.models import Case, CaseParticipant, CaseState, Organisation, User
from tests import factories


def fresh(user: User) -> User:
    """A new object for the same account (object permissions must not come from a cached user)."""
    return User.objects.get(pk=user.pk)


def visible(user: User) -> set[str]:
    return set(permissions.cases_for_user(fresh(user)).values_list("number", flat=True))


def can_open(user: User | AnonymousUser, case: Case, perm: str = permissions.VIEW) -> bool:
    """Whether the one door opens; also checks that a refusal is a 404, never a hint."""
    person = fresh(user) if isinstance(user, User) else user
    try:
        opened = permissions.get_case_for_user(person, case.pk, perm=perm)
    except Http404:
        return False
    assert opened.pk == case.pk
    return True


def transferred(case: Case, case_manager: User) -> Case:
    services.accept_case(case, actor=case_manager)
    return services.transfer_to_institution(case, actor=case_manager)


# --- consumers -------------------------------------------------------------------------------------


def test_consumer_sees_only_own_cases(
    make_case: Callable[..., Case], consumer: User, other_consumer: User, outsider: User
) -> None:
    own = make_case()
    theirs = make_case(consumer=other_consumer)

    assert visible(consumer) == {own.number}
    assert can_open(consumer, own)
    assert not can_open(consumer, theirs)
    assert visible(other_consumer) == {theirs.number}
    assert visible(outsider) == set()
    assert not can_open(outsider, own)


def test_consumer_takes_part_but_cannot_answer_or_manage(submitted_case: Case, consumer: User) -> None:
    assert can_open(consumer, submitted_case, permissions.TAKE_PART)
    for perm in (permissions.ANSWER, permissions.MANAGE, permissions.MEDIATE):
        assert not can_open(consumer, submitted_case, perm)


def test_unknown_or_malformed_case_number_is_404(consumer: User, submitted_case: Case) -> None:
    for pk in (submitted_case.pk + 1000, "abc", ""):
        with pytest.raises(Http404):
            permissions.get_case_for_user(fresh(consumer), pk)


def test_anonymous_visitor_gets_nothing(submitted_case: Case) -> None:
    assert not can_open(AnonymousUser(), submitted_case)
    assert list(permissions.cases_for_user(AnonymousUser())) == []


def test_deactivated_account_loses_every_case(submitted_case: Case, consumer: User) -> None:
    User.objects.filter(pk=consumer.pk).update(is_active=False)

    assert not can_open(consumer, submitted_case)
    assert visible(consumer) == set()


# --- institutions ----------------------------------------------------------------------------------


def test_institution_sees_a_complaint_only_once_it_is_transferred(
    submitted_case: Case, case_manager: User, bank_agent: User
) -> None:
    assert not can_open(bank_agent, submitted_case)
    services.accept_case(submitted_case, actor=case_manager)
    assert not can_open(bank_agent, submitted_case)

    services.transfer_to_institution(submitted_case, actor=case_manager)

    assert can_open(bank_agent, submitted_case, permissions.ANSWER)
    assert not can_open(bank_agent, submitted_case, permissions.MANAGE)
    assert visible(bank_agent) == {submitted_case.number}


def test_head_office_sees_branch_cases_but_branches_see_only_their_own(
    make_case: Callable[..., Case],
    bank: Organisation,
    bank_branch: Organisation,
    case_manager: User,
    bank_agent: User,
    branch_agent: User,
    other_bank_agent: User,
) -> None:
    sibling = factories.organisation(Organisation.Kind.INSTITUTION, "华南商业银行越秀支行", parent=bank)
    at_head_office = transferred(make_case(institution=bank), case_manager)
    at_branch = transferred(
        make_case(institution=bank_branch, product_category="deposit", issue_type="interest"), case_manager
    )
    at_sibling = transferred(
        make_case(institution=sibling, product_category="mortgage", issue_type="early_repayment"), case_manager
    )

    assert visible(bank_agent) == {at_head_office.number, at_branch.number, at_sibling.number}
    assert can_open(bank_agent, at_branch, permissions.ANSWER)
    assert visible(branch_agent) == {at_branch.number}
    assert can_open(branch_agent, at_branch, permissions.ANSWER)
    assert not can_open(branch_agent, at_head_office)
    assert not can_open(branch_agent, at_sibling)
    assert visible(other_bank_agent) == set()
    assert not can_open(other_bank_agent, at_branch)


def test_agent_moved_to_another_bank_loses_the_old_banks_cases(
    transferred_case: Case, bank_agent: User, other_bank: Organisation
) -> None:
    agent = fresh(bank_agent)
    agent.organisation = other_bank
    agent.save(update_fields=["organisation"])
    permissions.sync_user_groups(agent)

    assert not can_open(bank_agent, transferred_case)
    assert visible(bank_agent) == set()


def test_notification_recipients_are_the_active_agents_holding_the_permission(
    transferred_case: Case, bank_agent: User, bank_supervisor: User, branch_agent: User, other_bank_agent: User
) -> None:
    assert set(permissions.users_with_case_perm(transferred_case, permissions.ANSWER)) == {bank_agent, bank_supervisor}

    User.objects.filter(pk=bank_supervisor.pk).update(is_active=False)

    assert set(permissions.users_with_case_perm(transferred_case, permissions.ANSWER)) == {bank_agent}


# --- centre staff ----------------------------------------------------------------------------------


def test_case_manager_sees_every_case_of_the_centre_and_nothing_else(
    make_case: Callable[..., Case],
    other_consumer: User,
    other_centre: Organisation,
    case_manager: User,
    other_case_manager: User,
) -> None:
    here = make_case()
    also_here = make_case(consumer=other_consumer)
    elsewhere = make_case(centre=other_centre, product_category="deposit", issue_type="interest")

    assert visible(case_manager) == {here.number, also_here.number}
    assert can_open(case_manager, here, permissions.MANAGE)
    assert not can_open(case_manager, elsewhere)
    assert visible(other_case_manager) == {elsewhere.number}
    assert not can_open(other_case_manager, here)


# --- mediators -------------------------------------------------------------------------------------


def test_mediator_sees_a_case_only_from_assignment(
    transferred_case: Case, consumer: User, bank_agent: User, case_manager: User, mediator: User, other_mediator: User
) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    assert not can_open(mediator, transferred_case)

    services.assign_mediator(transferred_case, actor=case_manager, mediator=mediator)

    assert can_open(mediator, transferred_case, permissions.MEDIATE)
    assert not can_open(mediator, transferred_case, permissions.ANSWER)
    assert visible(mediator) == {transferred_case.number}
    assert visible(other_mediator) == set()


def test_removed_mediator_loses_the_case_at_once(mediating_case: Case, mediator: User) -> None:
    services.remove_participant(mediating_case.participants.get(user=mediator), actor=None, reason="回避")
    assert not can_open(mediator, mediating_case)
    assert visible(mediator) == set()
    assert mediating_case.state == CaseState.MEDIATING


def test_declining_mediator_loses_the_case(
    transferred_case: Case, consumer: User, bank_agent: User, case_manager: User, mediator: User
) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    services.assign_mediator(transferred_case, actor=case_manager, mediator=mediator)

    services.mediator_declines(transferred_case, mediator=mediator, reason="利益冲突")

    assert not can_open(mediator, transferred_case)
    assert visible(mediator) == set()


def test_removing_one_capacity_keeps_the_permissions_of_another(mediating_case: Case, mediator: User) -> None:
    second = services.add_participant(mediating_case, mediator, CaseParticipant.Capacity.MEDIATOR, actor=None)

    services.remove_participant(second, actor=None, reason="改任主调解员")

    assert can_open(mediator, mediating_case, permissions.MEDIATE)


# --- courts and regulators -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["court_clerk", "regulator"])
def test_courts_and_regulators_open_no_case_pages(
    request: pytest.FixtureRequest, mediating_case: Case, persona: str
) -> None:
    person = request.getfixturevalue(persona)
    assert visible(person) == set()
    assert not can_open(person, mediating_case)
