"""``manage.py verify_package FILE.zip [--json] [--root root.crt]``: exit 0 ok, 1 problems, 2 unreadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command

from tests import pdf_fixtures as pdfs
from tests.test_judicial_package import Packaged, flip_last_byte, packaged_signed_case, rezip

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def packaged(django_db_setup: None, django_db_blocker: Any, _pki_dir: Path, tmp_path_factory: Any) -> Packaged:
    return packaged_signed_case(django_db_blocker, _pki_dir, tmp_path_factory.mktemp("uploads"))


def write(tmp_path: Path, data: bytes, name: str = "package.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("verify_package", *args, stdout=out)
    return out.getvalue()


def run_failing(*args: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_package", *args, stdout=out)
    return raised.value, out.getvalue()


def tampered_evidence(packaged: Packaged) -> bytes:
    return rezip(
        packaged.built.zip_bytes, lambda files: {**files, "evidence/002.png": flip_last_byte(files["evidence/002.png"])}
    )


def test_a_good_package_lists_every_file_and_succeeds(packaged: Packaged, tmp_path: Path) -> None:
    output = run(str(write(tmp_path, packaged.built.zip_bytes)))

    assert f"案件：{packaged.case_number}    用途：confirmation" in output
    assert "清单签署人：广东金融消费纠纷调解中心电子印章" in output
    assert output.count("[通过]") == 9  # with the sitting's mediation record
    assert "[通过] sessions/mediation-record-01.pdf  调解笔录（第 1 场，经当事人确认）" in output
    assert "[通过] agreement/agreement-signed.pdf  调解协议书（已签署）" in output
    assert "电子签名：文件中的签名全部有效（共 4 个），签署后文件未被篡改。" in output
    assert packaged.built.sha256 in output
    assert output.rstrip().endswith("材料包核验通过：清单签名有效，9 个文件均与清单一致，其中的电子签名均有效。")


def test_json_output_is_the_report(packaged: Packaged, tmp_path: Path) -> None:
    body = json.loads(run(str(write(tmp_path, packaged.built.zip_bytes)), "--json"))

    assert body["ok"] is True and body["problems"] == []
    assert body["case_number"] == packaged.case_number
    assert [f["path"] for f in body["files"]] == [e["path"] for e in packaged.built.manifest["files"]]
    assert body["files"][0]["pdf"]["signatures"][0]["field_name"] == "consumer-1"


def test_a_tampered_file_exits_1_and_names_it(packaged: Packaged, tmp_path: Path) -> None:
    error, output = run_failing(str(write(tmp_path, tampered_evidence(packaged))))

    assert error.returncode == 1
    assert str(error) == "材料包未通过核验，共发现 2 个问题。"
    assert "[未通过] evidence/002.png" in output
    assert "文件 evidence/002.png 与清单记录不符（SHA-256/SM3 不一致），文件已被改动。" in output
    assert "SHA256SUMS 中 evidence/002.png 的记录与文件不符或缺失。" in output


def test_a_tampered_file_with_json_exits_1(packaged: Packaged, tmp_path: Path) -> None:
    error, output = run_failing(str(write(tmp_path, tampered_evidence(packaged))), "--json")

    assert error.returncode == 1
    body = json.loads(output)
    assert body["ok"] is False
    assert [(p["code"], p["path"]) for p in body["problems"]] == [
        ("file_changed", "evidence/002.png"),
        ("checksums_mismatch", "evidence/002.png"),
    ]
    assert [f["path"] for f in body["files"] if not f["ok"]] == ["evidence/002.png"]


def test_a_root_the_package_does_not_chain_to_exits_1(packaged: Packaged, tmp_path: Path) -> None:
    foreign = write(
        tmp_path, pdfs.test_pki().foreign_root.certificate.public_bytes(serialization.Encoding.PEM), "r.crt"
    )

    error, output = run_failing(str(write(tmp_path, packaged.built.zip_bytes)), "--root", str(foreign))

    assert error.returncode == 1
    assert "清单签名的证书不能追溯到所信任的根证书" in output


def test_the_right_root_given_explicitly_succeeds(packaged: Packaged, tmp_path: Path) -> None:
    root = write(tmp_path, packaged.root_pem, "root.crt")

    assert "材料包核验通过" in run(str(write(tmp_path, packaged.built.zip_bytes)), "--root", str(root))


def test_not_a_zip_exits_2(tmp_path: Path) -> None:
    error, _output = run_failing(str(write(tmp_path, b"%PDF-1.7 not a package")))

    assert error.returncode == 2
    assert "这不是有效的ZIP材料包" in str(error)


def test_not_a_zip_with_json_prints_the_error(tmp_path: Path) -> None:
    error, output = run_failing(str(write(tmp_path, b"")), "--json")

    assert error.returncode == 2
    assert json.loads(output)["error"]["code"] == "empty"


def test_missing_file_or_unreadable_root_exits_2(packaged: Packaged, tmp_path: Path) -> None:
    error, _output = run_failing(str(tmp_path / "nowhere.zip"))
    assert error.returncode == 2 and "nowhere.zip" in str(error)

    package_path = str(write(tmp_path, packaged.built.zip_bytes))
    error, _output = run_failing(package_path, "--root", str(write(tmp_path, b"garbage", "root.crt")))
    assert error.returncode == 2 and "根证书无法读取" in str(error)


def test_on_a_court_machine_with_only_the_root(packaged: Packaged, tmp_path: Path) -> None:
    """A separate process with an empty var directory (no CA, no database rows): the exit statuses
    reach the shell, and ``--root`` is all it needs."""
    env = {**os.environ, "FENGQIAO_VAR_DIR": str(tmp_path / "var")}
    for name in ("DATABASE_URL", "SIGNING_PKI_DIR"):
        env.pop(name, None)
    root = write(tmp_path, packaged.root_pem, "root.crt")

    def verify(data: bytes, *options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "verify_package", str(write(tmp_path, data)), *options],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    good = verify(packaged.built.zip_bytes, "--root", str(root), "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["ok"] is True
    assert not (tmp_path / "var" / "pki" / "root.key").exists()  # no CA was generated to check it

    bad = verify(tampered_evidence(packaged), "--root", str(root), "--json")
    assert bad.returncode == 1, bad.stderr
    assert json.loads(bad.stdout)["problems"][0]["path"] == "evidence/002.png"

    unreadable = verify(b"not a zip", "--root", str(root))
    assert unreadable.returncode == 2
    assert "这不是有效的ZIP材料包" in unreadable.stderr

    rootless = verify(packaged.built.zip_bytes)
    assert rootless.returncode == 2
    assert "请指定所信任的根证书（--root root.crt）" in rootless.stderr
