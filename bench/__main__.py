"""``make bench``: every benchmark, a table printed and JSON under ``bench/results/``.

``python -m bench NAME ...`` runs only the named ones (pages, recommendation, signing, package, rooms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import package, rooms, signing
from bench.common import git_revision, machine, print_table, versions, write_result

ROOT = Path(__file__).resolve().parent.parent

# The figure is for 100,000 cases; the baseline is the same pages on 1,000 cases,
# measured in the same run, so growth with the table size shows directly.
BASELINE_CASES = int(os.environ.get("BENCH_BASELINE_CASES", "1000"))
TARGET_CASES = int(os.environ.get("BENCH_CASES", "100000"))
REPEATS = os.environ.get("BENCH_REPEATS", "50")
# Recommendation for one case: the 5,000 mediators and 100,000 historical cases, against
# a tenth of both in the same run.
RECOMMENDATION_BASELINE = (int(os.environ.get("BENCH_BASELINE_MEDIATORS", "500")), BASELINE_CASES * 10)
RECOMMENDATION_TARGET = (int(os.environ.get("BENCH_MEDIATORS", "5000")), TARGET_CASES)
# Signing: one agreement per repeat, a few seconds each.
SIGNING_REPEATS = os.environ.get("BENCH_REPEATS", "10")
# Court package: one build of 20 MB of evidence per repeat, about a second each.
PACKAGE_REPEATS = os.environ.get("BENCH_PACKAGE_REPEATS", "7")


def _pages(cases: int) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "bench.pages", "--cases", str(cases), "--repeats", REPEATS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        sys.stderr.write(output.stderr)
        raise SystemExit(f"bench.pages --cases {cases} failed")
    return json.loads(output.stdout.strip().splitlines()[-1])


def bench_pages() -> None:
    baseline = _pages(BASELINE_CASES)
    target = _pages(TARGET_CASES)
    rows = []
    for page, figures in target["pages"].items():
        base = baseline["pages"][page]
        rows.append(
            [
                page,
                f"{base['median_ms']:.1f} / {base['p95_ms']:.1f}",
                base["queries"],
                f"{figures['median_ms']:.1f} / {figures['p95_ms']:.1f}",
                figures["queries"],
            ]
        )
    print_table(
        f"Pages: server time (median / p95 ms) and SQL queries, {BASELINE_CASES:,} vs {TARGET_CASES:,} cases",
        ["page", f"{BASELINE_CASES:,} cases ms", "queries", f"{TARGET_CASES:,} cases ms", "queries"],
        rows,
    )
    path = write_result(
        "pages",
        {
            "benchmark": "case-manager list and consumer case page",
            "machine": machine(),
            "versions": versions("django", "django-guardian", "channels"),
            "revision": git_revision(),
            "method": "django.test.Client in-process against SQLite; server time per request; "
            "queries counted with CaptureQueriesContext on a warm request",
            "baseline": baseline,
            "result": target,
        },
    )
    print(f"\nwritten {path.relative_to(ROOT)}")


def _recommendation(mediators: int, cases: int) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.recommendation",
            "--mediators",
            str(mediators),
            "--cases",
            str(cases),
            "--repeats",
            REPEATS,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        sys.stderr.write(output.stderr)
        raise SystemExit(f"bench.recommendation --mediators {mediators} --cases {cases} failed")
    return json.loads(output.stdout.strip().splitlines()[-1])


def bench_recommendation() -> None:
    baseline = _recommendation(*RECOMMENDATION_BASELINE)
    target = _recommendation(*RECOMMENDATION_TARGET)
    print_table(
        "Mediator recommendation for one case: time (ms) and SQL queries",
        ["mediators", "historical cases", "median ms", "p95 ms", "queries", "listed", "build s"],
        [
            [
                f"{run['mediators']:,}",
                f"{run['cases']:,}",
                f"{run['median_ms']:.1f}",
                f"{run['p95_ms']:.1f}",
                run["queries"],
                run["listed"],
                run["build_seconds"],
            ]
            for run in (baseline, target)
        ],
    )
    path = write_result(
        "recommendation",
        {
            "benchmark": "mediators.recommendation.recommend for one case",
            "machine": machine(),
            "versions": versions("django", "django-guardian"),
            "revision": git_revision(),
            "method": "in-process against SQLite, one centre holding the whole pool; wall time of "
            "recommend(case) per call after one warm-up call; queries counted with "
            "CaptureQueriesContext on a warm call",
            "baseline": baseline,
            "result": target,
        },
    )
    print(f"\nwritten {path.relative_to(ROOT)}")


def _in_own_process(module: str, repeats: str, report: Any) -> None:
    """Benchmarks that configure Django themselves run in a process of their own."""
    output = subprocess.run(
        [sys.executable, "-m", module, "--json", "--repeats", repeats],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        sys.stderr.write(output.stderr)
        raise SystemExit(f"{module} failed")
    path = report(json.loads(output.stdout.strip().splitlines()[-1]))
    print(f"\nwritten {path.relative_to(ROOT)}")


def bench_signing() -> None:
    _in_own_process("bench.signing", SIGNING_REPEATS, signing.report)


def bench_package() -> None:
    _in_own_process("bench.package", PACKAGE_REPEATS, package.report)


def bench_rooms() -> None:
    # Its own plan (50 and 200 rooms, four configurations, about 9 minutes); a smoke run is
    # ``python -m bench.rooms --quick``.
    path = rooms.report(rooms.run(rooms.plan_from_environment(), list(rooms.CONFIGURATIONS)))
    if path:
        print(f"\nwritten {path.relative_to(ROOT)}")


BENCHMARKS = {
    "pages": bench_pages,
    "recommendation": bench_recommendation,
    "signing": bench_signing,
    "package": bench_package,
    "rooms": bench_rooms,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in chosen:
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
