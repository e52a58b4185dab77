from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from mediation import ledger
from mediation.demo import DEMO_MARKER, USERS
from mediation.models import (
    Case,
    CaseState,
    CaseTransition,
    Deadline,
    LedgerEntry,
    Notification,
    Organisation,
    Role,
    User,
)

pytestmark = pytest.mark.django_db


def run_load_demo() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "organisations": Organisation.objects.count(),
        "users": User.objects.count(),
        "cases": Case.objects.count(),
        "transitions": CaseTransition.objects.count(),
        "deadlines": Deadline.objects.count(),
        "ledger": LedgerEntry.objects.count(),
    }


def test_demo_has_a_case_in_every_state_driven_through_the_services():
    run_load_demo()
    states = set(Case.objects.values_list("state", flat=True))
    assert states == set(CaseState.values)
    for case in Case.objects.all():
        assert case.description.startswith(DEMO_MARKER)
        # Every state was reached through real transitions, one row per step.
        path = list(case.transitions.values_list("to_state", flat=True))
        assert path[0] == CaseState.SUBMITTED
        assert path[-1] == case.state
    mediating = Case.objects.get(state=CaseState.MEDIATING)
    assert mediating.deadlines.filter(kind="mediation_term", status="running").exists()
    # Its first sitting is scheduled, through the sessions app, and everyone on the case was invited.
    sitting = mediating.mediation_sessions.get()
    assert sitting.state == "scheduled" and sitting.scheduled_start > timezone.now()
    invited = set(
        Notification.objects.filter(kind="sessions.session.scheduled").values_list("recipient__username", flat=True)
    )
    assert {"demo_consumer", "demo_mediator"} <= invited
    effective = Case.objects.get(state=CaseState.AGREEMENT_EFFECTIVE)
    assert effective.deadlines.filter(kind="judicial_confirmation", status="running").exists()
    assert ledger.verify().ok


def test_demo_agreements_and_court_packages_are_real_and_verify():
    """A newcomer can open the signed agreement, download the package the court got, and check both."""
    from judicial_link.models import ConfirmationApplication
    from judicial_link.package import verify_package
    from signing import verify
    from signing.models import Agreement
    from signing.services import latest_revision

    run_load_demo()
    signed = Agreement.objects.filter(state=Agreement.State.EFFECTIVE).select_related("case")
    assert {a.case.state for a in signed} == {
        CaseState.AGREEMENT_EFFECTIVE,
        CaseState.CONFIRMATION_APPLIED,
        CaseState.CONFIRMED,
    }
    for agreement in signed:
        latest = latest_revision(agreement)
        assert latest is not None
        with latest.file.open("rb") as handle:
            report = verify.verify_pdf(handle.read())
        assert report.ok and len(report.signatures) == 4, report.verdict
    sent = ConfirmationApplication.objects.get(case__state=CaseState.CONFIRMATION_APPLIED)
    confirmed = ConfirmationApplication.objects.get(case__state=CaseState.CONFIRMED)
    assert sent.state == ConfirmationApplication.State.SUBMITTED and sent.court.name == "广州市天河区人民法院"
    assert confirmed.state == ConfirmationApplication.State.CONFIRMED and confirmed.court_case_number
    for application in (sent, confirmed):
        with application.package.open("rb") as handle:
            assert verify_package(handle.read()).ok
    with confirmed.ruling.open("rb") as handle:
        assert verify.verify_pdf(handle.read()).ok


def test_second_run_changes_nothing_and_the_ledger_still_verifies():
    run_load_demo()
    before = snapshot()
    password_hash = User.objects.get(username="demo_consumer").password
    output = run_load_demo()
    assert snapshot() == before
    assert User.objects.get(username="demo_consumer").password == password_hash
    assert "本次新建 0 件" in output
    report = ledger.verify()
    assert report.ok
    assert report.checked == before["ledger"]


def test_every_role_has_a_login_and_the_logins_are_printed_on_every_run():
    first = run_load_demo()
    second = run_load_demo()
    assert {spec.role for spec in USERS} == set(Role.values)
    for output in (first, second):
        for spec in USERS:
            line = next(line for line in output.splitlines() if line.startswith(spec.username + " "))
            assert "fengqiao-demo-2024" in line
            assert str(Role(spec.role).label) in line
    consumer = User.objects.get(username="demo_consumer")
    assert consumer.check_password("fengqiao-demo-2024")
    assert consumer.id_number_masked.endswith(consumer.reveal_id_number()[-4:])


def test_demo_organisations_have_valid_codes_and_a_branch_under_a_bank():
    run_load_demo()
    for organisation in Organisation.objects.all():
        organisation.full_clean()
    branch = Organisation.objects.get(name="粤海商业银行广州天河支行")
    assert branch.head_office.name == "粤海商业银行股份有限公司"
    assert Organisation.objects.filter(institution_type=Organisation.InstitutionType.INSURER).exists()
    supervisor = User.objects.get(username="demo_bank_supervisor")
    assert supervisor.can_approve_extensions
    assert User.objects.get(username="demo_admin").is_superuser


def test_demo_case_manager_manages_every_demo_case_and_the_bank_sees_its_branch_cases():
    run_load_demo()
    from mediation import permissions

    manager = User.objects.get(username="demo_case_manager")
    assert permissions.cases_for_user(manager, permissions.MANAGE).count() == Case.objects.count()
    bank_agent = User.objects.get(username="demo_bank_agent")
    branch_case = Case.objects.filter(institution__name="粤海商业银行广州天河支行", state=CaseState.ANSWERED).get()
    assert bank_agent.has_perm(permissions.ANSWER, branch_case)


@pytest.mark.django_db(transaction=True)
def test_loading_the_demo_sends_no_email(mailoutbox):
    run_load_demo()
    assert Case.objects.filter(state=CaseState.CLOSED).exists()
    assert mailoutbox == []
