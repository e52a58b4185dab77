"""The built-in RFC 3161 time-stamping authority, driven by OpenSSL's client over the ``/tsa/`` endpoint."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, tsp
from django.test import Client
from django.urls import reverse
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import validate_pdf_signature

from mediation.models import User
from signing import pki, tsa, views_pki
from signing.keys import key_service
from tests import factories

TSQ = "application/timestamp-query"


@pytest.fixture
def authority(db: None) -> pki.Authority:
    return pki.authority()


@pytest.fixture
def chain_pem(authority: pki.Authority, tmp_path: Path) -> Path:
    path = tmp_path / "chain.pem"
    path.write_bytes(authority.path("root.crt").read_bytes() + authority.path("issuing.crt").read_bytes())
    return path


def _openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False, cwd=cwd)


def _post(body: bytes, content_type: str = TSQ, client: Client | None = None) -> Any:
    return (client or Client()).post(reverse("signing:tsa"), data=body, content_type=content_type)


def _query(tmp_path: Path, *options: str) -> bytes:
    data = tmp_path / "agreement.pdf"
    data.write_bytes(b"%PDF-1.7 the agreement as signed")
    query = tmp_path / "q.tsq"
    result = _openssl("ts", "-query", "-data", data, "-sha256", *options, "-out", query)
    assert result.returncode == 0, result.stderr
    return query.read_bytes()


def _status(reply: bytes) -> tuple[str, set[str]]:
    status = tsa.TimeStampResponse.load(reply)["status"]
    return status["status"].native, set(status["fail_info"].native or ())


def _token_info(reply: bytes) -> tsp.TSTInfo:
    token = tsp.TimeStampResp.load(reply)["time_stamp_token"]
    return token["content"]["encap_content_info"]["content"].parsed


def test_openssl_request_gets_a_token_that_openssl_verifies(
    authority: pki.Authority, chain_pem: Path, tmp_path: Path
) -> None:
    query = _query(tmp_path, "-cert")
    response = _post(query)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/timestamp-reply"
    reply = tmp_path / "r.tsr"
    reply.write_bytes(response.content)

    verified = _openssl("ts", "-verify", "-data", tmp_path / "agreement.pdf", "-in", reply, "-CAfile", chain_pem)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert b"Verification: OK" in verified.stdout

    text = _openssl("ts", "-reply", "-in", reply, "-text").stdout.decode()
    assert "Status: Granted." in text
    assert f"Policy OID: {tsa.TSA_POLICY_OID}" in text
    assert "Accuracy: 0x01 seconds" in text
    assert "TSA: DirName:/C=CN/O=Fengqiao/CN=Fengqiao Time-Stamping Authority" in text

    # The nonce comes back, the imprint is the request's, and the token names this TSA's certificate.
    request = tsp.TimeStampReq.load(query)
    info = _token_info(response.content)
    assert info["nonce"].native == request["nonce"].native is not None
    assert info["message_imprint"].dump() == request["message_imprint"].dump()
    signed_data = tsp.TimeStampResp.load(response.content)["time_stamp_token"]["content"]
    attributes = {attr["type"].native: attr["values"][0] for attr in signed_data["signer_infos"][0]["signed_attrs"]}
    ess = attributes["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(authority.tsa_cert.dump()).digest()
    assert ess["issuer_serial"]["serial_number"].native == authority.tsa_cert.serial_number
    assert signed_data["signer_infos"][0]["signature_algorithm"]["algorithm"].native == "sha256_rsa"
    embedded = {cert.chosen.dump() for cert in signed_data["certificates"]}
    assert embedded == {authority.tsa_cert.dump(), authority.issuing_cert.dump()}


def test_certificates_are_left_out_unless_requested(authority: pki.Authority, chain_pem: Path, tmp_path: Path) -> None:
    response = _post(_query(tmp_path, "-no_nonce"))
    reply = tmp_path / "r.tsr"
    reply.write_bytes(response.content)
    signed_data = tsp.TimeStampResp.load(response.content)["time_stamp_token"]["content"]
    assert not signed_data["certificates"]
    assert _token_info(response.content)["nonce"].native is None

    # Without the certificate in the token, the verifier must bring it.
    missing = _openssl("ts", "-verify", "-data", tmp_path / "agreement.pdf", "-in", reply, "-CAfile", chain_pem)
    assert missing.returncode != 0
    supplied = _openssl(
        "ts",
        "-verify",
        "-data",
        tmp_path / "agreement.pdf",
        "-in",
        reply,
        "-CAfile",
        chain_pem,
        "-untrusted",
        authority.path("tsa.crt"),
    )
    assert supplied.returncode == 0, supplied.stdout + supplied.stderr


def test_serial_numbers_are_unique(authority: pki.Authority, tmp_path: Path) -> None:
    query = _query(tmp_path, "-cert")
    serials = {_token_info(_post(query).content)["serial_number"].native for _ in range(5)}
    assert len(serials) == 5
    assert all(0 < serial < 2**128 for serial in serials)


def test_garbage_gets_a_rejection_reply_with_bad_data_format(authority: pki.Authority, tmp_path: Path) -> None:
    for body in (b"not a request", b"\x30\x03\x02\x01\x01", _query(tmp_path) + b"trailing"):
        response = _post(body)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/timestamp-reply"
        assert _status(response.content) == ("rejection", {"bad_data_format"})
    reply = tmp_path / "r.tsr"
    reply.write_bytes(_post(b"not a request").content)
    text = _openssl("ts", "-reply", "-in", reply, "-text").stdout.decode()
    assert "Status: Rejected." in text
    assert "Failure info: the data submitted has the wrong format" in text


def test_sha1_imprint_is_rejected_with_bad_alg(authority: pki.Authority, tmp_path: Path) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"x")
    result = _openssl("ts", "-query", "-data", data, "-sha1", "-out", tmp_path / "q.tsq")
    assert result.returncode == 0
    assert _status(_post((tmp_path / "q.tsq").read_bytes()).content) == ("rejection", {"bad_alg"})


def _request(**fields: Any) -> bytes:
    values: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "hashed_message": hashlib.sha256(b"x").digest(),
        },
        "cert_req": True,
    }
    values.update(fields)
    return tsp.TimeStampReq(values).dump()


def test_imprint_of_the_wrong_length_is_a_bad_request(authority: pki.Authority) -> None:
    short = {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "hashed_message": b"\x00" * 20}
    assert _status(_post(_request(message_imprint=short)).content) == ("rejection", {"bad_request"})
    sha512 = {
        "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha512"}),
        "hashed_message": hashlib.sha512(b"x").digest(),
    }
    assert _status(_post(_request(message_imprint=sha512)).content) == ("granted", set())


def test_foreign_policy_and_extensions_are_refused(authority: pki.Authority, tmp_path: Path) -> None:
    assert _status(_post(_query(tmp_path, "-tspolicy", "1.2.3.4")).content) == ("rejection", {"unaccepted_policy"})
    assert _status(_post(_query(tmp_path, "-tspolicy", tsa.TSA_POLICY_OID)).content)[0] == "granted"
    extension = [{"extn_id": "1.2.3.4.5", "critical": False, "extn_value": b"\x05\x00"}]
    assert _status(_post(_request(extensions=extension)).content) == ("rejection", {"unaccepted_extensions"})


def test_endpoint_refuses_wrong_type_oversize_and_get(authority: pki.Authority, tmp_path: Path) -> None:
    query = _query(tmp_path)
    wrong_type = _post(query, content_type="application/octet-stream")
    assert wrong_type.status_code == 415
    assert wrong_type["Content-Type"].startswith("text/plain")
    assert b"application/timestamp-query" in wrong_type.content

    oversize = _post(b"\x30" + b"\x00" * (16 * 1024))
    assert oversize.status_code == 413
    assert _post(b"\x30" * (16 * 1024)).status_code == 200  # exactly the limit is still read (and rejected)

    assert Client().get(reverse("signing:tsa")).status_code == 405
    # Other servers' clients post without a CSRF token.
    assert _post(query, client=Client(enforce_csrf_checks=True)).status_code == 200


def test_timestamper_is_in_process_unless_a_url_is_configured(authority: pki.Authority, settings: Any) -> None:
    settings.SIGNING_TSA_URL = ""
    assert isinstance(tsa.timestamper(), tsa.TimeStampAuthority)
    settings.SIGNING_TSA_URL = "https://tsa.example.cn/tsr"
    external = tsa.timestamper()
    assert isinstance(external, HTTPTimeStamper)
    assert external.url == "https://tsa.example.cn/tsr"


def test_in_process_rejection_raises_for_pyhanko(authority: pki.Authority) -> None:
    authority_tsa = tsa.TimeStampAuthority(authority)
    with pytest.raises(TimestampRequestError, match="bad_alg"):
        asyncio.run(authority_tsa.async_timestamp(bytes(20), "sha1"))
    token = asyncio.run(authority_tsa.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))
    assert token["content"]["encap_content_info"]["content"].parsed["policy"].native == tsa.TSA_POLICY_OID


@pytest.mark.django_db(transaction=True)
def test_pdf_signed_through_an_http_tsa_url_served_by_ourselves(
    live_server: Any, settings: Any, consumer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HTTPTimeStamper`` (aiohttp) runs inside ``PdfSigner.sign_pdf``'s own event loop from sync code."""
    served: list[int] = []
    respond = views_pki.TimeStampAuthority.respond

    def counting_respond(self: tsa.TimeStampAuthority, request_der: bytes) -> bytes:
        served.append(len(request_der))
        return respond(self, request_der)

    monkeypatch.setattr(views_pki.TimeStampAuthority, "respond", counting_respond)
    settings.SIGNING_TSA_URL = f"{live_server.url}/tsa/"
    authority = pki.authority()
    certificate = authority.issue_event_certificate(consumer)
    timestamper = tsa.timestamper()
    assert isinstance(timestamper, HTTPTimeStamper)

    writer = IncrementalPdfFileWriter(BytesIO(factories.sample_pdf_bytes("agreement")))
    signed = signers.PdfSigner(
        signers.PdfSignatureMetadata(
            field_name="consumer-1", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
        ),
        signer=key_service().signer_for(certificate),
        timestamper=timestamper,
    ).sign_pdf(writer)

    assert served, "the signature timestamp did not come over HTTP"
    with pytest.raises(TimestampRequestError, match="bad_alg"):
        asyncio.run(timestamper.async_timestamp(bytes(20), "sha1"))
    reader = PdfFileReader(BytesIO(signed.getvalue()))
    (signature,) = reader.embedded_regular_signatures
    context = authority.validation_context()
    status = validate_pdf_signature(signature, signer_validation_context=context, ts_validation_context=context)
    assert status.bottom_line is True
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
