"""Personas shared by every test module (STYLE.md: tests speak in personas)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mediation import services
from mediation.models import Case, Organisation, Role, User
from tests import factories


@pytest.fixture(scope="session")
def _pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One built-in CA per test worker: generating RSA keys is the slow part of signing tests."""
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(autouse=True)
def _isolated_var(settings: Any, tmp_path: Any, _pki_dir: Any) -> None:
    settings.SIGNING_PKI_DIR = _pki_dir
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    settings.SMS_BACKEND = "mediation.notifications.MemorySmsBackend"
    # Personas get passwords; the production hasher costs ~0.35 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_ENABLED = True


@pytest.fixture
def centre(db: None) -> Organisation:
    return factories.organisation(Organisation.Kind.CENTRE, "广东金融消费纠纷调解中心", region="广东省广州市")


@pytest.fixture
def other_centre(db: None) -> Organisation:
    return factories.organisation(Organisation.Kind.CENTRE, "浙江金融纠纷调解中心", region="浙江省杭州市")


@pytest.fixture
def bank(db: None) -> Organisation:
    return factories.organisation(Organisation.Kind.INSTITUTION, "华南商业银行", region="广东省广州市")


@pytest.fixture
def bank_branch(bank: Organisation) -> Organisation:
    return factories.organisation(
        Organisation.Kind.INSTITUTION, "华南商业银行天河支行", parent=bank, region="广东省广州市"
    )


@pytest.fixture
def other_bank(db: None) -> Organisation:
    return factories.organisation(Organisation.Kind.INSTITUTION, "东海银行", region="浙江省杭州市")


@pytest.fixture
def insurer(db: None) -> Organisation:
    return factories.organisation(
        Organisation.Kind.INSTITUTION,
        "平安健康保险",
        institution_type=Organisation.InstitutionType.INSURER,
    )


@pytest.fixture
def court(db: None) -> Organisation:
    return factories.organisation(
        Organisation.Kind.COURT, "广州市天河区人民法院", court_level=Organisation.CourtLevel.BASIC, court_code="J0106"
    )


@pytest.fixture
def regulator_org(db: None) -> Organisation:
    return factories.organisation(Organisation.Kind.REGULATOR, "金融监管总局广东监管局")


@pytest.fixture
def consumer(db: None) -> User:
    return factories.user("consumer", Role.CONSUMER, real_name="张三")


@pytest.fixture
def other_consumer(db: None) -> User:
    return factories.user("other_consumer", Role.CONSUMER, real_name="李四")


@pytest.fixture
def outsider(db: None) -> User:
    return factories.user("outsider", Role.CONSUMER, real_name="王五")


@pytest.fixture
def bank_agent(bank: Organisation) -> User:
    return factories.user("bank_agent", Role.INSTITUTION_AGENT, bank, real_name="赵经理")


@pytest.fixture
def bank_supervisor(bank: Organisation) -> User:
    return factories.user(
        "bank_supervisor", Role.INSTITUTION_AGENT, bank, real_name="钱总", can_approve_extensions=True
    )


@pytest.fixture
def branch_agent(bank_branch: Organisation) -> User:
    return factories.user("branch_agent", Role.INSTITUTION_AGENT, bank_branch, real_name="孙专员")


@pytest.fixture
def other_bank_agent(other_bank: Organisation) -> User:
    return factories.user("other_bank_agent", Role.INSTITUTION_AGENT, other_bank, real_name="周经理")


@pytest.fixture
def mediator(centre: Organisation) -> User:
    return factories.pool_mediator("mediator", centre, real_name="吴调解员")


@pytest.fixture
def other_mediator(centre: Organisation) -> User:
    return factories.pool_mediator("other_mediator", centre, real_name="郑调解员")


@pytest.fixture
def case_manager(centre: Organisation) -> User:
    return factories.user("case_manager", Role.CASE_MANAGER, centre, real_name="冯主任", is_staff=True)


@pytest.fixture
def other_case_manager(other_centre: Organisation) -> User:
    return factories.user("other_case_manager", Role.CASE_MANAGER, other_centre, real_name="陈主任", is_staff=True)


@pytest.fixture
def court_clerk(court: Organisation) -> User:
    return factories.user("court_clerk", Role.COURT_CLERK, court, real_name="褚书记员")


@pytest.fixture
def regulator(regulator_org: Organisation) -> User:
    return factories.user("regulator", Role.REGULATOR, regulator_org, real_name="卫处长")


@pytest.fixture
def admin_user(db: None) -> User:
    return factories.user("admin", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def make_case(consumer: User, bank: Organisation, centre: Organisation) -> Callable[..., Case]:
    def make(**kwargs: Any) -> Case:
        return factories.complaint(
            kwargs.pop("consumer", consumer), kwargs.pop("institution", bank), kwargs.pop("centre", centre), **kwargs
        )

    return make


@pytest.fixture
def submitted_case(make_case: Callable[..., Case]) -> Case:
    return make_case()


@pytest.fixture
def transferred_case(submitted_case: Case, case_manager: User, bank_agent: User) -> Case:
    services.accept_case(submitted_case, actor=case_manager)
    return services.transfer_to_institution(submitted_case, actor=case_manager)


@pytest.fixture
def mediating_case(
    transferred_case: Case, consumer: User, bank_agent: User, case_manager: User, mediator: User
) -> Case:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    services.assign_mediator(transferred_case, actor=case_manager, mediator=mediator)
    return factories.accept_assignment(transferred_case, mediator=mediator)


@pytest.fixture
def ready_case(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> Case:
    """``mediating_case`` with its agreement signed by everyone: ready to apply for judicial confirmation."""
    from tests.judicial_helpers import effective_case

    people = {"consumer": consumer, "bank_agent": bank_agent, "mediator": mediator, "case_manager": case_manager}
    return effective_case(mediating_case, people, django_capture_on_commit_callbacks)


@pytest.fixture
def tianhe(bank: Organisation) -> Organisation:
    """A basic court covering the bank's (and the centre's) region."""
    from tests.judicial_helpers import basic_court

    return basic_court("广州市天河区人民法院", bank.region, "J0106")
