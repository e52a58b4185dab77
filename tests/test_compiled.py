"""mediation.compiled: an ORM query compiled once and run with new values; a prepared INSERT."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from mediation.compiled import CompiledQuery, insert
from mediation.models import Case, User
from sessions import services
from sessions.models import Message


def _people(p: Any) -> Any:
    # ``is_active=True`` is the queryset's own constant; ``p.user`` and ``p.name`` are parameters.
    return User.objects.filter(pk=p.user, username=p.name, is_active=True).values_list("username")


@pytest.mark.django_db
def test_a_compiled_query_runs_its_sql_with_each_call_s_values(
    consumer: User, mediator: User, django_assert_num_queries: Any
) -> None:
    people = CompiledQuery(_people, ints=["user"], strings=["name"])
    text, slots = people.sql()

    with django_assert_num_queries(1):
        assert people.fetchone(user=consumer.pk, name=consumer.username) == (consumer.username,)
    assert people.fetchone(user=mediator.pk, name=mediator.username) == (mediator.username,)
    assert people.fetchone(user=mediator.pk, name="nobody") is None
    consumer.is_active = False
    consumer.save(update_fields=["is_active"])
    assert people.fetchone(user=consumer.pk, name=consumer.username) is None  # the constant kept
    assert people.sql()[0] is text and people.sql()[1] is slots  # compiled once, then reused
    assert {name for name, _constant in slots if name} == {"user", "name"}


def test_a_parameter_the_query_never_uses_is_refused() -> None:
    unused = CompiledQuery(lambda p: User.objects.filter(pk=p.user).values_list("pk"), ints=["user", "case"])
    with pytest.raises(ImproperlyConfigured, match="case"):
        unused.sql()
    # A lookup that rewrites its value (here to "name%") cannot take a parameter either.
    rewritten = CompiledQuery(
        lambda p: User.objects.filter(username__startswith=p.name).values_list("pk"), strings=["name"]
    )
    with pytest.raises(ImproperlyConfigured, match="name"):
        rewritten.sql()


@pytest.mark.django_db
def test_a_compiled_query_needs_exactly_its_parameters(consumer: User) -> None:
    people = CompiledQuery(_people, ints=["user"], strings=["name"])
    with pytest.raises(TypeError, match="name"):
        people.fetchone(user=consumer.pk)
    with pytest.raises(TypeError):
        people.fetchone(user=consumer.pk, name="a", extra=1)


@pytest.mark.django_db
def test_insert_stores_the_row_as_save_would(mediating_case: Case, consumer: User) -> None:
    room = services.joint_room(mediating_case)
    at = timezone.now()
    message = Message(
        room=room, seq=7, kind="text", author=consumer, body="您好", event={"x": [1, "二"]}, created_at=at
    )

    insert(message)

    assert message.pk is not None and not message._state.adding
    stored = Message.objects.get(pk=message.pk)
    assert (stored.room_id, stored.seq, stored.author_id, stored.body) == (room.pk, 7, consumer.pk, "您好")
    assert stored.event == {"x": [1, "二"]}
    assert stored.created_at == at
    assert stored.client_id == "" and stored.session_id is None and stored.released_at is None
