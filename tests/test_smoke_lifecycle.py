import pytest

from mediation.models import CaseState


def test_mediating_case_reaches_mediating(mediating_case):
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.MEDIATING
    assert mediating_case.deadlines.get(kind="mediation_term", status="running")
