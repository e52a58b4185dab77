"""Time and SQL queries of the mediator recommendation for one case in a large pool.

Run as ``python -m bench.recommendation --mediators N --cases M``: builds (once, cached under
``var/bench/``) a SQLite database with N mediators of one centre — expertise, languages,
certificates (some expired), statuses, unavailable dates, declared relationships — and M
historical cases they carried in every state, with party ratings; then calls
``mediators.recommendation.recommend`` for one case waiting for its mediator and prints JSON.
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

REGIONS = [
    "广东省广州市",
    "广东省深圳市",
    "广东省梅州市",
    "福建省厦门市",
    "福建省福州市",
    "浙江省杭州市",
    "上海市",
    "北京市",
    "四川省成都市",
    "湖北省武汉市",
]
# Where the history of a large pool sits: most cases long concluded, a few still open.
HISTORY_STATES = [
    ("closed_agreed", 30),
    ("closed_unmediated", 10),
    ("terminated", 20),
    ("agreement_effective", 5),
    ("confirmation_applied", 3),
    ("confirmed", 7),
    ("confirmation_rejected", 1),
    ("performing", 6),
    ("mediating", 4),
    ("awaiting_mediator", 1),
    ("choosing_mediator", 1),
    ("transferred", 6),
    ("submitted", 6),
]


def _configure(mediators: int, cases: int) -> Path:
    var = Path(os.environ.get("FENGQIAO_VAR_DIR", ROOT / "var"))
    db = var / "bench" / f"recommendation-{mediators}-{cases}.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{db}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediation.settings")
    os.environ["AXES_ENABLED"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return db


def _build(mediator_count: int, case_count: int) -> None:
    """Bulk-insert the pool and its history (no services: millions of rows would take hours)."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from mediation.classification import ISSUE_TYPES
    from mediation.models import Case, CaseParticipant, CaseState, IntakeChannel, Organisation, Role, User
    from mediators.models import (
        DeclaredRelationship,
        Expertise,
        Language,
        MediatorLanguage,
        MediatorProfile,
        Qualification,
        Rating,
        Unavailability,
    )
    from tests.factories import credit_code

    rng = random.Random(20261122)
    today = timezone.localdate()
    now = timezone.now()
    unusable = make_password(None)
    categories = list(ISSUE_TYPES)
    with transaction.atomic():
        centre = Organisation.objects.create(
            kind="centre", name="基准测试调解中心", region="广东省广州市", credit_code=credit_code(910000001)
        )
        heads = [
            Organisation.objects.create(
                kind="institution",
                institution_type="bank",
                name=f"基准银行{i}",
                region=REGIONS[i % len(REGIONS)],
                credit_code=credit_code(910000100 + i),
            )
            for i in range(10)
        ]
        branches = [
            Organisation.objects.create(
                kind="institution",
                institution_type="bank",
                name=f"{head.name}广州分行",
                parent=head,
                region="广东省广州市",
                credit_code=credit_code(910000200 + i),
            )
            for i, head in enumerate(heads)
        ]
        institutions = heads + branches
        manager = User.objects.create(
            username="bench_manager", role=Role.CASE_MANAGER, organisation=centre, real_name="基准管理员"
        )
        consumers = User.objects.bulk_create(
            [
                User(username=f"bench_consumer_{i}", role=Role.CONSUMER, real_name=f"消费者{i}", password=unusable)
                for i in range(200)
            ]
        )

        users = User.objects.bulk_create(
            [
                User(
                    username=f"bench_mediator_{i}",
                    role=Role.MEDIATOR,
                    organisation=centre,
                    real_name=f"调解员{i}",
                    password=unusable,
                )
                for i in range(mediator_count)
            ],
            batch_size=2000,
        )
        statuses = [MediatorProfile.Status.ACTIVE] * 18 + [
            MediatorProfile.Status.SUSPENDED,
            MediatorProfile.Status.RETIRED,
        ]
        profiles = MediatorProfile.objects.bulk_create(
            [
                MediatorProfile(
                    user=user,
                    centre=centre,
                    display_name=user.real_name,
                    employment=rng.choice(MediatorProfile.Employment.values),
                    region=rng.choice(REGIONS),
                    max_caseload=rng.randint(3, 15),
                    status=rng.choice(statuses),
                )
                for user in users
            ],
            batch_size=2000,
        )
        qualifications, expertise, languages, unavailable, relationships = [], [], [], [], []
        for profile in profiles:
            expired = rng.random() < 0.05
            qualifications.append(
                Qualification(
                    profile=profile,
                    name="人民调解员资格证书",
                    expires_on=today - datetime.timedelta(days=rng.randint(1, 400))
                    if expired
                    else (None if rng.random() < 0.5 else today + datetime.timedelta(days=rng.randint(30, 900))),
                )
            )
            pairs: set[tuple[str, str]] = set()
            for _ in range(rng.randint(1, 4)):
                category = rng.choice(categories)
                issue = "" if rng.random() < 0.3 else rng.choice(ISSUE_TYPES[category])[0]
                pairs.add((category, issue))
            expertise += [Expertise(profile=profile, product_category=c, issue_type=i) for c, i in sorted(pairs)]
            spoken = {Language.MANDARIN, *rng.sample(Language.values, rng.randint(0, 2))}
            languages += [MediatorLanguage(profile=profile, language=code) for code in sorted(spoken)]
            if rng.random() < 0.3:
                start = today + datetime.timedelta(days=rng.randint(-5, 20))
                unavailable.append(
                    Unavailability(
                        profile=profile, start_date=start, end_date=start + datetime.timedelta(days=rng.randint(0, 10))
                    )
                )
            if rng.random() < 0.1:
                left = today - datetime.timedelta(days=rng.randint(100, 3000))
                relationships.append(
                    DeclaredRelationship(
                        profile=profile,
                        kind=rng.choice(DeclaredRelationship.Kind.values),
                        organisation=rng.choice(institutions),
                        start_date=left - datetime.timedelta(days=2000),
                        end_date=left,
                    )
                )
        Qualification.objects.bulk_create(qualifications, batch_size=5000)
        Expertise.objects.bulk_create(expertise, batch_size=5000)
        MediatorLanguage.objects.bulk_create(languages, batch_size=5000)
        Unavailability.objects.bulk_create(unavailable, batch_size=5000)
        DeclaredRelationship.objects.bulk_create(relationships, batch_size=5000)

        state_names = [name for name, _weight in HISTORY_STATES]
        weights = [weight for _name, weight in HISTORY_STATES]
        case_rows = []
        for i in range(case_count):
            category = rng.choice(categories)
            drawn = rng.choices(state_names, weights)[0]
            agreed = drawn == "closed_agreed" or drawn in {
                "agreement_effective",
                "confirmation_applied",
                "confirmed",
                "confirmation_rejected",
                "performing",
            }
            state = CaseState.CLOSED if drawn.startswith("closed") else CaseState(drawn)
            case_rows.append(
                Case(
                    number=f"FQR{i:08d}",
                    state=state,
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
                    agreement_effective_at=now - datetime.timedelta(days=rng.randint(1, 700)) if agreed else None,
                )
            )
        case_rows = Case.objects.bulk_create(case_rows, batch_size=5000)

        mediated = {
            CaseState.AWAITING_MEDIATOR,
            CaseState.MEDIATING,
            CaseState.AGREEMENT_EFFECTIVE,
            CaseState.CONFIRMATION_APPLIED,
            CaseState.CONFIRMED,
            CaseState.CONFIRMATION_REJECTED,
            CaseState.PERFORMING,
            CaseState.TERMINATED,
        }
        participants, ratings = [], []
        for case in case_rows:
            consumer = rng.choice(consumers)
            participants.append(CaseParticipant(case=case, user=consumer, capacity=CaseParticipant.Capacity.CONSUMER))
            if case.state not in mediated and not (case.state == CaseState.CLOSED and case.agreement_effective_at):
                continue
            lead, co = rng.sample(users, 2)
            if rng.random() < 0.05:
                # A mediator who declined or was changed before the one who carried the case.
                participants.append(
                    CaseParticipant(case=case, user=co, capacity=CaseParticipant.Capacity.LEAD_MEDIATOR, removed_at=now)
                )
            participants.append(CaseParticipant(case=case, user=lead, capacity=CaseParticipant.Capacity.LEAD_MEDIATOR))
            if rng.random() < 0.1:
                participants.append(CaseParticipant(case=case, user=co, capacity=CaseParticipant.Capacity.MEDIATOR))
            if case.state in {CaseState.CLOSED, CaseState.TERMINATED} and rng.random() < 0.5:
                ratings.append(
                    Rating(
                        case=case, mediator=lead, party=consumer, score=rng.choices([1, 2, 3, 4, 5], [1, 1, 3, 6, 9])[0]
                    )
                )
        CaseParticipant.objects.bulk_create(participants, batch_size=5000)
        Rating.objects.bulk_create(ratings, batch_size=5000)

        # The case being assigned: a credit-card interest dispute against a 广州 branch.
        target = Case.objects.create(
            number="FQR-TARGET",
            state=CaseState.CHOOSING_MEDIATOR,
            centre=centre,
            institution=branches[0],
            product_category="credit_card",
            issue_type="interest_fees",
            amount_in_dispute=Decimal("12000"),
            description="信用卡分期手续费未如实告知。",
            requested_outcome="退还手续费",
            intake_channel=IntakeChannel.WEB,
            entered_by=manager,
            consent_online_mediation=True,
            service_address="bench@example.cn",
        )
        CaseParticipant.objects.create(case=target, user=consumers[0], capacity=CaseParticipant.Capacity.CONSUMER)


def run(mediators: int, cases: int, repeats: int) -> dict[str, Any]:
    db = _configure(mediators, cases)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.common import summarise
    from mediation.models import Case
    from mediators.models import MediatorProfile
    from mediators.recommendation import recommend

    built_in = 0.0
    if not Case.objects.filter(number="FQR-TARGET").exists() or MediatorProfile.objects.count() != mediators:
        started = time.perf_counter()
        _build(mediators, cases)
        built_in = time.perf_counter() - started
    case = Case.objects.select_related("institution", "centre").get(number="FQR-TARGET")
    listed = recommend(case)  # warm: imports, translations, SQLite page cache
    with CaptureQueriesContext(connection) as captured:
        recommend(case)
    # Counted now: the captured list is a view on the connection's log, which later queries extend.
    queries = len(captured)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        recommend(case)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "mediators": mediators,
        "cases": cases,
        "database": db.name,
        "build_seconds": round(built_in, 1),
        "listed": len(listed),
        "top_score": listed[0].score if listed else None,
        "queries": queries,
        **summarise(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mediators", type=int, required=True)
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(run(args.mediators, args.cases, args.repeats)))


if __name__ == "__main__":
    main()
