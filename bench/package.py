"""Time of building (and verifying) the court package of a case with 20 evidence files of 1 MB each.

Run as ``python -m bench.package`` (table and ``bench/results/package.json``) or
``python -m bench package``; ``--repeats N`` or ``BENCH_PACKAGE_REPEATS`` (default 7) sets how many
packages are built; ``--files`` and ``--megabytes`` change the evidence (the issue's figure is 20
files of 1 MB). ``--json`` prints the raw figures as one JSON line instead (what ``python -m bench``
reads).

Every run starts from a fresh SQLite database, ``var/bench/package/package.sqlite3``, with its own
var directory next to it (CA, fonts, stamps and uploads are kept there; nothing touches the
development ``var/``). One case is driven to MEDIATING through ``mediation.services``, its evidence
is written straight into storage as ``Evidence`` rows (random bytes behind a PDF header: random
data does not compress, which is the worst case for the ZIP and what scans and photos are like),
and its agreement is drafted, finalised and signed by all four signers (as ``bench.signing`` does,
without the one-time code). Then, after one warm-up build that is not counted, timed per repeat:

1. ``judicial_link.package.build_package(case, court=court)``: the whole package, including
   reading every file from storage, rendering and sealing the signing report, SHA-256 and SM3 of
   every file, the manifest, its CMS signature and the ZIP;
2. the baseline, in the same loop: ``zipfile`` writing the same 20 evidence files read from storage
   the same way, ZIP_STORED, in memory, with no hashing, signing or other documents;
3. the parts of (1), called one by one: the signing report; reading and checking the evidence;
   SHA-256 + SM3 of every file (the manifest entries); the CMS signature; writing the ZIP;
4. ``verify_package`` of the built package (what the court side runs on receipt).

Each step reports wall-clock median and p95 and the median CPU time of this process.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "package"
TARGET_SECONDS = 2.0

STEP_LABELS = {
    "build": "build_package (whole package)",
    "signing_report": "  signing report (render + seal)",
    "evidence": "  evidence read from storage + hash check",
    "manifest_hashes": "  SHA-256 + SM3 of every file",
    "sign_manifest": "  CMS signature of manifest.json",
    "zip": "  ZIP written (stored PDFs, deflated JSON)",
    "verify": "verify_package (court side)",
}
BASELINE_LABEL = "plain zipfile of the same evidence files, no hashing or signing"


def _configure() -> dict[str, Any]:
    from bench.common import configure_isolated

    return configure_isolated(NAME)


def _evidence(case: Any, uploader: Any, files: int, size: int) -> list[Any]:
    """``files`` Evidence rows of ``size`` random bytes each, written into storage directly."""
    import hashlib

    from django.core.files.base import ContentFile

    from mediation.models import Evidence

    rows = []
    for number in range(1, files + 1):
        content = b"%PDF-1.7\n%" + os.urandom(size - 10)
        evidence = Evidence(
            case=case,
            uploaded_by=uploader,
            original_name=f"扫描件{number:02d}.pdf",
            content_type="application/pdf",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            sm3=hashlib.new("sm3", content).hexdigest(),
        )
        evidence.file.save(evidence.sha256, ContentFile(content), save=False)
        evidence.save()
        rows.append(evidence)
    return rows


def _signed_case(people: dict[str, Any], files: int, size: int) -> Any:
    from bench.signing import _finalised_agreement
    from signing import services
    from signing.models import Agreement

    agreement = _finalised_agreement(people)
    case = agreement.case
    _evidence(case, people["consumer"], files, size)
    agreement = services.prepare_signing(agreement, actor=people["mediator"])
    signers = {
        "consumer-1": people["consumer"],
        "institution": people["bank_agent"],
        "mediator-1": people["mediator"],
        "centre-seal": people["case_manager"],
    }
    origin = services.Origin(ip="127.0.0.1", user_agent="bench.package")
    for slot in agreement.slots.order_by("position"):
        agreement = Agreement.objects.select_related("case").get(pk=agreement.pk)
        seen = services.latest_revision(agreement)
        assert seen is not None
        services._sign_verified(  # noqa: SLF001 - the person check (password + code) is not what is measured
            agreement,
            slot,
            user=signers[slot.field_name],
            seen=seen,
            request_token="",
            origin=origin,
            verification={"verification": "benchmark"},
        )
    agreement = Agreement.objects.select_related("case").get(pk=agreement.pk)
    if agreement.state != Agreement.State.EFFECTIVE:
        raise SystemExit(f"agreement {agreement.pk} is {agreement.state} after every signature")
    return agreement.case


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _ms(started: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = started
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _plain_zip(case: Any) -> bytes:
    """The baseline: the same evidence files read from storage into a stored ZIP, nothing else."""
    from mediation.models import Evidence

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, item in enumerate(Evidence.objects.filter(case=case).order_by("uploaded_at", "pk"), start=1):
            with item.file.open("rb") as handle:
                archive.writestr(f"evidence/{number:03d}.pdf", handle.read())
    return buffer.getvalue()


def _one_round(case: Any, court: Any) -> tuple[dict[str, tuple[float, float]], dict[str, Any]]:
    from judicial_link import package

    samples: dict[str, tuple[float, float]] = {}

    started = _clock()
    built = package.build_package(case, court=court)
    samples["build"] = _ms(started)

    started = _clock()
    plain = _plain_zip(case)
    samples["baseline"] = _ms(started)

    started = _clock()
    package.signing_report_document(case)
    samples["signing_report"] = _ms(started)

    started = _clock()
    evidence = package.evidence_documents(case)
    samples["evidence"] = _ms(started)

    started = _clock()
    for item in built.files:
        package._file_entry(item)  # noqa: SLF001 - the hashing step on its own
    samples["manifest_hashes"] = _ms(started)

    manifest_bytes = package._json_bytes(built.manifest)  # noqa: SLF001
    started = _clock()
    package.sign_manifest(manifest_bytes, case.centre)
    samples["sign_manifest"] = _ms(started)

    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    started = _clock()
    package._write_zip(contents)  # noqa: SLF001
    samples["zip"] = _ms(started)

    started = _clock()
    report = package.verify_package(built.zip_bytes)
    samples["verify"] = _ms(started)
    if not report.ok:
        raise SystemExit(f"the built package does not verify: {[p.code for p in report.problems]}")

    sizes = {
        "package_bytes": len(built.zip_bytes),
        "baseline_bytes": len(plain),
        "files": len(built.files),
        "evidence_files": len(evidence),
    }
    return samples, sizes


def _summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    from bench.common import summarise

    return {
        **summarise([wall for wall, _cpu in samples]),
        "cpu_median_ms": round(statistics.median(cpu for _wall, cpu in samples), 2),
    }


def run(repeats: int, files: int, megabytes: float) -> dict[str, Any]:
    where = _configure()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - started

    from bench.signing import _people
    from mediation.models import Organisation
    from signing import pki
    from signing.fonts import pinned_font
    from tests import factories

    started = time.perf_counter()
    authority = pki.initialise()
    pinned_font()
    ca_seconds = time.perf_counter() - started

    size = int(megabytes * 1024 * 1024)
    started = time.perf_counter()
    people = _people()
    court = factories.organisation(
        Organisation.Kind.COURT, "广州市天河区人民法院", court_level=Organisation.CourtLevel.BASIC, court_code="J0106"
    )
    case = _signed_case(people, files, size)
    setup_seconds = time.perf_counter() - started

    load_before = os.getloadavg()
    _one_round(case, court)  # warm-up: imports, fonts, seal certificate, caches
    rounds = [_one_round(case, court) for _ in range(repeats)]
    load_after = os.getloadavg()
    steps = {name: _summary([samples[name] for samples, _sizes in rounds]) for name in STEP_LABELS}
    baseline = _summary([samples["baseline"] for samples, _sizes in rounds])
    sizes = rounds[-1][1]
    return {
        "repeats": repeats,
        "evidence": {"files": files, "bytes_each": size},
        **where,
        "ca_generated": authority.created,
        "setup_seconds": {
            "migrate": round(migrate_seconds, 1),
            "ca_and_font": round(ca_seconds, 1),
            "case_evidence_and_signed_agreement": round(setup_seconds, 1),
        },
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "sizes": sizes,
        "target_ms": TARGET_SECONDS * 1000,
        "steps": steps,
        "baseline": {**baseline, "what": BASELINE_LABEL},
    }


def _cell(figures: dict[str, Any]) -> str:
    return f"{figures['median_ms']:.1f} / {figures['p95_ms']:.1f}"


def report(result: dict[str, Any]) -> Path:
    """Print the table and write ``bench/results/package.json``; needs no Django."""
    from bench.common import git_revision, machine, print_table, versions, write_result

    evidence = result["evidence"]
    megabytes = evidence["bytes_each"] / 1048576
    rows = [
        [label, _cell(result["steps"][name]), f"{result['steps'][name]['cpu_median_ms']:.1f}"]
        for name, label in STEP_LABELS.items()
    ]
    rows.insert(1, [BASELINE_LABEL, _cell(result["baseline"]), f"{result['baseline']['cpu_median_ms']:.1f}"])
    print_table(
        f"Court package of a case with {evidence['files']} evidence files of {megabytes:g} MB: "
        f"wall median / p95 ms and CPU median ms over {result['repeats']} builds",
        ["step", "wall ms", "CPU ms"],
        rows,
    )
    build = result["steps"]["build"]
    verdict = "meets" if build["p95_ms"] <= result["target_ms"] else "MISSES"
    sizes = result["sizes"]
    print(
        f"\nTarget ≤ {result['target_ms'] / 1000:g} s: build p95 {build['p95_ms'] / 1000:.2f} s {verdict} it; "
        f"{build['median_ms'] / result['baseline']['median_ms']:.1f}× the plain ZIP (median)."
    )
    print(
        f"Package {sizes['package_bytes']:,} bytes ({sizes['files']} files + manifest, signature, CA, SHA256SUMS); "
        f"plain ZIP {sizes['baseline_bytes']:,} bytes."
    )
    load = result["load_average_1min"]
    print(f"Load average (1 min) {load['before']} before, {load['after']} after.")
    return write_result(
        NAME,
        {
            "benchmark": "build_package for a case with 20 evidence files of 1 MB, against a plain zipfile",
            "machine": machine(),
            "versions": versions("django", "weasyprint", "pyhanko", "cryptography"),
            "revision": git_revision(),
            "method": "in-process against a fresh SQLite database and local file storage; one case with a fully "
            "signed agreement and random-content evidence rows; one warm-up build not counted, then per repeat "
            "build_package, the plain-zipfile baseline, each part of the build on its own, and verify_package; "
            "wall time (time.perf_counter) and this process's CPU time (time.process_time)",
            "baseline": result["baseline"],
            "result": {key: value for key, value in result.items() if key != "baseline"},
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_PACKAGE_REPEATS", "7")))
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line, write nothing")
    args = parser.parse_args()
    if args.repeats < 1 or args.files < 1 or args.megabytes <= 0:
        parser.error("--repeats and --files must be at least 1, --megabytes positive")
    result = run(args.repeats, args.files, args.megabytes)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    path = report(result)
    print(f"\nwritten {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
