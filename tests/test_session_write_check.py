"""The one query behind every write into a room: who someone is on the case, and whether the open
sitting lets them speak. Its answers are checked against django-guardian's own, person by person."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import assign_perm
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

from mediation import permissions
from mediation import services as case_services
from mediation.models import Case, CaseParticipant, User
from sessions import services
from tests import factories


def _guardian_role(user: User, case: Case) -> str | None:
    """The rule as guardian's checker answers it (what ``case_role`` computed before it became SQL)."""
    user = User.objects.get(pk=user.pk)
    if not user.is_active:
        return None
    checker = ObjectPermissionChecker(user)
    if checker.has_perm(permissions.MEDIATE, case):
        return services.MEDIATOR
    if CaseParticipant.objects.filter(
        case=case, user=user, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
    ).exists():
        return services.CONSUMER
    if checker.has_perm(permissions.ANSWER, case):
        return services.INSTITUTION
    return None


@pytest.fixture
def everyone(
    mediating_case: Case,
    consumer: User,
    other_consumer: User,
    bank_agent: User,
    other_bank_agent: User,
    mediator: User,
    other_mediator: User,
    case_manager: User,
    outsider: User,
    admin_user: User,
    centre: Any,
) -> dict[str, User]:
    """Each way of standing (or not) on the case: own permissions, a group's, none, inactive."""
    inactive = factories.user("inactive_agent", "institution_agent", mediating_case.institution)
    permissions.sync_user_groups(inactive)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    # Mediating through a group only (no participation, no permission of their own).
    panel = factories.user("panel_member", "mediator", centre)
    group = Group.objects.create(name="panel")
    panel.groups.add(group)
    assign_perm(permissions.MEDIATE, group, mediating_case)
    return {
        "consumer": consumer,
        "other consumer": other_consumer,
        "bank agent (group)": bank_agent,
        "other bank's agent": other_bank_agent,
        "mediator (own)": mediator,
        "unassigned mediator": other_mediator,
        "case manager": case_manager,
        "outsider": outsider,
        "superuser": admin_user,
        "inactive agent": inactive,
        "mediator by group": panel,
    }


@pytest.mark.django_db
def test_case_role_agrees_with_guardian_for_every_kind_of_person(
    mediating_case: Case, everyone: dict[str, User], mediator: User, case_manager: User
) -> None:
    answers = {name: services.case_role(person, mediating_case) for name, person in everyone.items()}

    assert answers == {name: _guardian_role(person, mediating_case) for name, person in everyone.items()}
    assert answers == {
        "consumer": "consumer",
        "other consumer": None,
        "bank agent (group)": "institution",
        "other bank's agent": None,
        "mediator (own)": "mediator",
        "unassigned mediator": None,
        "case manager": None,
        "outsider": None,
        "superuser": "mediator",  # guardian: a superuser holds every permission
        "inactive agent": None,
        "mediator by group": "mediator",
    }
    # Removed (recusal): the answer changes at once, as guardian's does.
    case_services.remove_mediator(mediating_case, actor=case_manager, mediator=mediator, reason="回避")
    assert services.case_role(mediator, mediating_case) is None
    assert _guardian_role(mediator, mediating_case) is None


@pytest.mark.django_db
def test_the_write_check_gives_the_same_role_in_every_room(mediating_case: Case, everyone: dict[str, User]) -> None:
    for room in services.rooms_for_case(mediating_case):
        for name, person in everyone.items():
            standing = services.standing(room, person)
            assert standing is not None
            assert standing.role == services.case_role(person, mediating_case), name
            assert (standing.kind, standing.side, standing.sitting) == (room.kind, room.side, None)


@pytest.mark.django_db
def test_a_message_costs_one_read_and_one_numbered_insert(mediating_case: Case, consumer: User) -> None:
    joint = services.joint_room(mediating_case)
    services.post_message(joint, author=consumer, body="第一条")

    # The check, then, in a savepoint (the test's own transaction is open), the numbering and the
    # row: two statements on SQLite, one on PostgreSQL (the numbering in a WITH clause).
    with CaptureQueriesContext(connection) as captured:
        message = services.post_message(joint, author=consumer, body="第二条", client_id="c-2")
    statements = [query["sql"].split()[0].upper() for query in captured.captured_queries]
    if connection.vendor == "postgresql":
        assert statements == ["SELECT", "SAVEPOINT", "WITH", "RELEASE"]
    else:
        assert statements == ["SELECT", "SAVEPOINT", "UPDATE", "INSERT", "RELEASE"]
    assert message.seq == 2 and joint.messages.get(seq=2) == message

    # Sent again (a reconnect): the stored copy, no second row.
    assert services.post_message(joint, author=consumer, body="第二条", client_id="c-2") == message
    assert joint.messages.count() == 2


@pytest.mark.django_db
def test_the_write_check_fits_psycopg_s_statement_cache() -> None:
    # Longer statements are parsed for their placeholders again on every call (psycopg 3).
    text, _slots = services._STANDING.sql()
    assert len(text.encode()) <= MAX_CACHED_STATEMENT_LENGTH


@pytest.mark.django_db
def test_postgresql_prepares_the_write_check_after_a_few_runs(mediating_case: Case, consumer: User) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the scale lane runs it")
    joint = services.joint_room(mediating_case)
    for _ in range(6):  # psycopg prepares a statement on its fifth run on a connection
        assert services.standing(joint, consumer) is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("role_mediate_own" in statement for statement in prepared), prepared
