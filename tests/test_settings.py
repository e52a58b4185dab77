"""Production settings pass Django's deployment checks when the documented variables are set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def _check_deploy(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "production-secret-key-that-is-long-and-random-0123456789",
        "ALLOWED_HOSTS": "tiaojie.example.cn",
        "IDENTITY_KEYS": Fernet.generate_key().decode(),
        "FENGQIAO_VAR_DIR": str(tmp_path),
        **overrides,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_weak_secret_key_fails_check_deploy(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_bad_boolean_variable_is_refused_with_its_name(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_every_environment_variable_read_by_settings_is_documented() -> None:
    import re

    source = (ROOT / "mediation" / "settings.py").read_text()
    read = set(re.findall(r'env(?:str|bool|int|list)\(\s*"([A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read, "the settings read no variables: the pattern above no longer matches settings.py"
    assert read - documented == set(), f"read by settings.py but missing from .env.example: {read - documented}"
    assert documented - read == set(), f"documented in .env.example but never read: {documented - read}"
