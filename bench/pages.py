"""Server time and SQL queries of the busiest pages with many cases in the database.

Run as ``python -m bench.pages --cases N``: builds (once, cached under ``var/bench/``) a SQLite
database with N cases, then requests the pages through Django's test client and prints JSON.
``python -m bench`` runs it for the baseline size and the target size in one run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _configure(cases: int) -> Path:
    var = Path(os.environ.get("FENGQIAO_VAR_DIR", ROOT / "var"))
    db = var / "bench" / f"cases-{cases}.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{db}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediation.settings")
    os.environ["AXES_ENABLED"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return db


def _build(cases: int) -> None:
    """Bulk-insert a realistic population: permissions, participants, transitions, clocks."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission
    from django.db import transaction
    from django.utils import timezone

    from mediation.classification import ISSUE_TYPES
    from mediation.models import (
        Case,
        CaseGroupObjectPermission,
        CaseParticipant,
        CaseState,
        CaseTransition,
        CaseUserObjectPermission,
        ClockKind,
        DayUnit,
        Deadline,
        IntakeChannel,
        Organisation,
        Role,
        User,
    )
    from mediation.permissions import organisation_group, sync_user_groups
    from tests.factories import credit_code, resident_id

    rng = random.Random(20261122)
    perms = {
        p.codename: p
        for p in Permission.objects.filter(content_type__app_label="mediation", content_type__model="case")
    }
    with transaction.atomic():
        centre = Organisation.objects.create(kind="centre", name="基准测试调解中心", credit_code=credit_code(900000001))
        heads = [
            Organisation.objects.create(
                kind="institution", institution_type="bank", name=f"基准银行{i}", credit_code=credit_code(900000100 + i)
            )
            for i in range(10)
        ]
        branches = [
            Organisation.objects.create(
                kind="institution",
                institution_type="bank",
                name=f"{head.name}分行",
                parent=head,
                credit_code=credit_code(900000200 + i),
            )
            for i, head in enumerate(heads)
        ]
        institutions = heads + branches
        manager = User.objects.create(
            username="bench_manager", role=Role.CASE_MANAGER, organisation=centre, real_name="基准管理员"
        )
        sync_user_groups(manager)
        for head in heads:
            agent = User.objects.create(
                username=f"bench_agent_{head.pk}",
                role=Role.INSTITUTION_AGENT,
                organisation=head,
                real_name="基准经办人",
            )
            sync_user_groups(agent)
        mediators = [
            User.objects.create(
                username=f"bench_mediator_{i}", role=Role.MEDIATOR, organisation=centre, real_name=f"调解员{i}"
            )
            for i in range(10)
        ]
        unusable = make_password(None)
        consumers = []
        for i in range(max(10, cases // 5)):
            person = User(username=f"bench_consumer_{i}", role=Role.CONSUMER, real_name=f"消费者{i}", password=unusable)
            person.id_number_masked = resident_id(i)[:3] + "*" * 11 + resident_id(i)[-4:]
            consumers.append(person)
        consumers = User.objects.bulk_create(consumers, batch_size=2000)

        states = [s for s in CaseState.values]
        categories = list(ISSUE_TYPES)
        now = timezone.now()
        case_rows = []
        for i in range(cases):
            category = rng.choice(categories)
            case_rows.append(
                Case(
                    number=f"FQB{i:08d}",
                    state=rng.choice(states),
                    centre=centre,
                    institution=rng.choice(institutions),
                    product_category=category,
                    issue_type=rng.choice(ISSUE_TYPES[category])[0],
                    amount_in_dispute=Decimal(rng.randint(100, 500000)),
                    description="基准测试案件的事实与理由。",
                    requested_outcome="退还费用",
                    intake_channel=rng.choice(IntakeChannel.values),
                    entered_by=manager,
                    consent_online_mediation=True,
                    service_address="bench@example.cn",
                )
            )
        case_rows = Case.objects.bulk_create(case_rows, batch_size=2000)
        # created_at is auto_now_add: spread it over two years afterwards for realistic sorting.
        for case in case_rows:
            case.created_at = now - datetime.timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
        Case.objects.bulk_update(case_rows, ["created_at"], batch_size=2000)

        centre_group = organisation_group(centre)
        institution_groups = {org.pk: [organisation_group(o) for o in org.ancestors()] for org in institutions}
        participants, user_perms, group_perms, transitions, deadlines = [], [], [], [], []
        open_clock = {
            CaseState.TRANSFERRED: (ClockKind.INSTITUTION_ANSWER, DayUnit.CALENDAR, 15),
            CaseState.CHOOSING_MEDIATOR: (ClockKind.PARTY_CHOICE, DayUnit.WORKING, 2),
            CaseState.AWAITING_MEDIATOR: (ClockKind.MEDIATOR_ACCEPTANCE, DayUnit.WORKING, 3),
            CaseState.MEDIATING: (ClockKind.MEDIATION_TERM, DayUnit.CALENDAR, 30),
            CaseState.AGREEMENT_EFFECTIVE: (ClockKind.JUDICIAL_CONFIRMATION, DayUnit.CALENDAR, 30),
        }
        before_transfer = {CaseState.SUBMITTED, CaseState.ACCEPTED, CaseState.NOT_ACCEPTED}
        for case in case_rows:
            consumer = rng.choice(consumers)
            participants.append(CaseParticipant(case=case, user=consumer, capacity="consumer"))
            user_perms += [
                CaseUserObjectPermission(content_object=case, user=consumer, permission=perms[c])
                for c in ("view_case", "take_part_case")
            ]
            group_perms += [
                CaseGroupObjectPermission(content_object=case, group=centre_group, permission=perms[c])
                for c in ("view_case", "manage_case")
            ]
            if case.state not in before_transfer:
                group_perms += [
                    CaseGroupObjectPermission(content_object=case, group=group, permission=perms[c])
                    for group in institution_groups[case.institution_id]
                    for c in ("view_case", "answer_case")
                ]
            if case.state in {CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING}:
                mediator = rng.choice(mediators)
                participants.append(CaseParticipant(case=case, user=mediator, capacity="lead_mediator"))
                user_perms += [
                    CaseUserObjectPermission(content_object=case, user=mediator, permission=perms[c])
                    for c in ("view_case", "mediate_case")
                ]
            transitions.append(CaseTransition(case=case, from_state="", to_state=CaseState.SUBMITTED, actor=manager))
            if case.state != CaseState.SUBMITTED:
                transitions.append(
                    CaseTransition(case=case, from_state=CaseState.SUBMITTED, to_state=case.state, actor=manager)
                )
            if case.state in open_clock:
                kind, unit, length = open_clock[case.state]
                start = (case.created_at + datetime.timedelta(days=rng.randint(0, 20))).date()
                deadlines.append(
                    Deadline(
                        case=case,
                        kind=kind,
                        unit=unit,
                        start_date=start,
                        length_days=length,
                        due_date=start + datetime.timedelta(days=length),
                    )
                )
        CaseParticipant.objects.bulk_create(participants, batch_size=5000)
        CaseUserObjectPermission.objects.bulk_create(user_perms, batch_size=5000)
        CaseGroupObjectPermission.objects.bulk_create(group_perms, batch_size=5000)
        CaseTransition.objects.bulk_create(transitions, batch_size=5000)
        Deadline.objects.bulk_create(deadlines, batch_size=5000)


def _measure(path: str, user: Any, repeats: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code} for {user}")
    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    # Counted now: the captured list is a view on the connection's log, which the next request resets.
    queries = len(captured)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    from bench.common import summarise

    return {"path": path, "queries": queries, **summarise(samples)}


def run(cases: int, repeats: int) -> dict[str, Any]:
    db = _configure(cases)
    from django.core.management import call_command
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    from mediation.models import Case, CaseParticipant, User

    built_in = 0.0
    if Case.objects.count() != cases:
        started = time.perf_counter()
        _build(cases)
        built_in = time.perf_counter() - started
    manager = User.objects.get(username="bench_manager")
    case_list = reverse("staff:case_list")
    one = Case.objects.order_by("pk").first()
    assert one is not None
    consumer_participation = CaseParticipant.objects.filter(case=one, capacity="consumer").select_related("user").get()
    pages = {
        "case_manager_list": _measure(case_list, manager, repeats),
        "case_manager_list_filtered": _measure(f"{case_list}?state=transferred&overdue=1", manager, repeats),
        "case_manager_list_one_row": _measure(f"{case_list}?q={one.number}", manager, repeats),
        "consumer_case_page": _measure(
            reverse("case_detail", kwargs={"pk": one.pk}), consumer_participation.user, repeats
        ),
    }
    return {"cases": cases, "database": str(db.name), "build_seconds": round(built_in, 1), "pages": pages}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(run(args.cases, args.repeats)))


if __name__ == "__main__":
    main()
