"""Machine facts, statistics and the result files shared by every benchmark."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 1048576, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": sys.version.split()[0],
    }


def versions(*packages: str) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    try:
        found["sqlite"] = __import__("sqlite3").sqlite_version
    except ImportError:
        pass
    return found


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def summarise(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95_index = max(0, round(0.95 * len(ordered)) - 1)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[p95_index], 2),
        "min_ms": round(ordered[0], 2),
        "samples": len(ordered),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return path


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


def configure_isolated(name: str) -> dict[str, Any]:
    """A fresh SQLite database and a var directory of the benchmark's own, then Django.

    The database and the previous run's uploads are removed; the CA, the font and the stamps are
    kept. Notifications go to memory, not to the console the figures are printed on. With
    ``DATABASE_URL`` set, that database is used instead.
    """
    import shutil

    root = Path(__file__).resolve().parent.parent
    var = Path(os.environ.get("FENGQIAO_VAR_DIR", root / "var"))
    home = var / "bench" / name
    home.mkdir(parents=True, exist_ok=True)
    own_database = "DATABASE_URL" not in os.environ
    db = home / f"{name}.sqlite3"
    if own_database:
        for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(home / "uploads", ignore_errors=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["FENGQIAO_VAR_DIR"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediation.settings")
    os.environ["AXES_ENABLED"] = "0"
    os.environ["SMS_BACKEND"] = "mediation.notifications.MemorySmsBackend"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    sys.path.insert(0, str(root))
    import django

    django.setup()
    from django.conf import settings

    return {
        "database": str(db.relative_to(root)) if own_database and db.is_relative_to(root) else "DATABASE_URL",
        "var_dir": str(settings.VAR_DIR),
    }
