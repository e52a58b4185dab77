"""``manage.py verify_pdf FILE [--json]``: exit 0 when valid, 1 when tampered or untrusted, 2 when unreadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mediation.models import Case
from signing import verify
from tests import pdf_fixtures as pdfs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def trust_the_test_pki(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "default_validation_context", lambda: pdfs.test_pki().validation_context())


def write(tmp_path: Path, data: bytes, name: str = "agreement.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("verify_pdf", *args, stdout=out)
    return out.getvalue()


def run_failing(*args: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_pdf", *args, stdout=out)
    return raised.value, out.getvalue()


@pytest.mark.django_db
def test_valid_file_prints_every_signature_and_succeeds(tmp_path: Path) -> None:
    output = run(str(write(tmp_path, pdfs.fully_signed())))

    assert "签名 1：张三 [consumer-1]" in output
    assert "签名 2：华南商业银行 [institution]" in output
    assert "签名 3：广东金融消费纠纷调解中心 [centre-seal]" in output
    assert output.count("内容完整：是    证书可信：是    已吊销：否    签署后有不允许的改动：否") == 3
    assert output.rstrip().endswith("文件中的签名全部有效（共 3 个），签署后文件未被篡改。")
    assert verify.verify_pdf(pdfs.fully_signed()).sha256 in output


@pytest.mark.django_db
def test_json_output_is_the_report(tmp_path: Path) -> None:
    output = run(str(write(tmp_path, pdfs.fully_signed())), "--json")

    body = json.loads(output)
    assert body["ok"] is True
    assert [s["field_name"] for s in body["signatures"]] == list(pdfs.FIELDS)
    assert body["agreement"] is None


@pytest.mark.django_db
def test_tampered_file_exits_1_after_printing_the_report(tmp_path: Path) -> None:
    path = write(tmp_path, pdfs.rotate_page_after_signing(pdfs.fully_signed()))

    error, output = run_failing(str(path))

    assert error.returncode == 1
    assert str(error).startswith("文件在第 3 个签名（广东金融消费纠纷调解中心）之后被修改过")
    assert output.count("签署后有不允许的改动：是") == 3
    assert "ENTIRE_REVISION / OTHER" in output


@pytest.mark.django_db
def test_tampered_file_with_json_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, pdfs.flip_byte_in_signed_range(pdfs.fully_signed()))

    error, output = run_failing(str(path), "--json")

    assert error.returncode == 1
    body = json.loads(output)
    assert body["ok"] is False
    assert [s["intact"] for s in body["signatures"]] == [False, False, False]


@pytest.mark.django_db
def test_file_without_signatures_exits_1(tmp_path: Path) -> None:
    error, _output = run_failing(str(write(tmp_path, pdfs.prepared_agreement())))

    assert error.returncode == 1
    assert str(error) == "该文件没有电子签名，无法证明它出自本平台或未被改动。"


def test_not_a_pdf_exits_2(tmp_path: Path) -> None:
    error, _output = run_failing(str(write(tmp_path, b"hello", "notes.txt")))

    assert error.returncode == 2
    assert "这不是PDF文件" in str(error)


def test_not_a_pdf_with_json_prints_the_error(tmp_path: Path) -> None:
    error, output = run_failing(str(write(tmp_path, b"%PDF-1.7\nbroken")), "--json")

    assert error.returncode == 2
    assert json.loads(output)["error"]["code"] == "unreadable"


def test_missing_file_exits_2(tmp_path: Path) -> None:
    error, _output = run_failing(str(tmp_path / "nowhere.pdf"))

    assert error.returncode == 2
    assert "nowhere.pdf" in str(error)


@pytest.mark.django_db
def test_no_size_limit_on_the_command_line(tmp_path: Path, settings: object) -> None:
    settings.VERIFY_MAX_MB = 0  # type: ignore[attr-defined]

    assert "签名全部有效" in run(str(write(tmp_path, pdfs.fully_signed())))


@pytest.mark.django_db
def test_platform_file_names_its_agreement(tmp_path: Path, mediating_case: Case) -> None:
    pdfs.store_agreement(mediating_case, pdfs.signed_revisions()[:3])

    output = run(str(write(tmp_path, pdfs.signed_revisions()[1])))

    assert f"本平台调解协议 {mediating_case.number} 的文件版本 1（最新为版本 2，已签 2 / 共 3）" in output


def test_process_exit_status_is_2_for_an_unreadable_file(tmp_path: Path) -> None:
    """The returncode really reaches the shell (what cron and scripts see)."""
    path = write(tmp_path, b"not a pdf at all")
    env = {**os.environ, "FENGQIAO_VAR_DIR": str(tmp_path / "var")}

    result = subprocess.run(
        [sys.executable, "manage.py", "verify_pdf", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2, result.stderr
    assert "这不是PDF文件" in result.stderr
