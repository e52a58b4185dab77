"""Time of rendering, preparing, signing, sealing and verifying one agreement, on a real case.

Run as ``python -m bench.signing`` (table and ``bench/results/signing.json``) or
``python -m bench signing``; ``--repeats N`` or ``BENCH_REPEATS`` (default 10) sets how many
agreements are measured. ``--json`` prints the raw figures as one JSON line instead (what
``python -m bench`` reads).

Every run starts from a fresh SQLite database, ``var/bench/signing/signing.sqlite3``, with its
own var directory next to it (CA, fonts, stamps and uploads are kept there, so nothing touches
the development ``var/``): one centre, one bank with one agent, one consumer, one mediator and
one case manager. For each repeat (plus one warm-up that is not counted) a case is driven to
MEDIATING through ``mediation.services`` and its agreement drafted and finalised; then, timed:

1. ``render.render_agreement`` of the final version, and the baseline: WeasyPrint writing the
   same text (the agreement's own words, tags stripped, one ``<p>`` per block) as a plain HTML
   page in the same pinned font, size and margins, without our template, QR code, JSON
   attachment or PDF/A;
2. ``services.prepare_signing`` (render, the four signature fields, revision 0 stored);
3. each of the four signatures through ``services._sign_verified`` (the person check skipped, as
   in the demo): consumer, institution, mediator, then the centre seal (PAdES B-LTA). The
   consumer's is the "party signature", with the baseline: the same revision-0 PDF and field
   signed by pyHanko's ``SimpleSigner`` loaded from a PKCS#12 file each time (the pattern
   DESIGN.md warns about), pyHanko's default appearance, the same built-in TSA, no database;
4. ``verify.verify_pdf`` of the fully signed agreement (4 signatures and a document timestamp);
5. the whole flow, prepare plus the four signatures, as one span (including the look-ups
   between the steps).

Each step reports wall-clock median and p95 and the median CPU time of this process; when other
work shares the cores (a test run), wall time grows and CPU time barely moves.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import os
import re
import statistics
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
NAME = "signing"

STEP_LABELS = {
    "render": "render_agreement (final version)",
    "prepare": "prepare_signing (render + fields + store)",
    "sign_consumer": "party signature: consumer (event cert, B-T)",
    "event_certificate": "  of which event certificate + key",
    "sign_institution": "party signature: institution (seal cert)",
    "sign_mediator": "mediator signature (event cert, B-T)",
    "sign_centre_seal": "centre seal (B-LTA: DSS + doc timestamp)",
    "verify": "verify_pdf (4 signatures + doc timestamp)",
    "whole_flow": "whole flow: prepare + 4 signatures",
}
BASELINE_LABELS = {
    "render": "plain WeasyPrint page, same text and font",
    "sign_consumer": "SimpleSigner from PKCS#12 each time, same TSA, no DB",
}

# A realistic 3-page agreement: the facts and positions as a mediator writes them up.
FACTS = "\n".join(
    [
        "申请人张三于2021年3月在被申请人处申领信用卡一张，卡号尾号4417，授信额度人民币50,000元。"
        "2025年11月至2026年8月间，申请人通过被申请人手机银行办理账单分期三笔，分期本金合计人民币36,000元，"
        "分期期数均为24期，被申请人按月收取分期手续费，每期费率0.66%。",
        "申请人称，办理分期时手机银行页面仅展示“每期手续费”金额，未展示折合年化利率，亦未提示提前还款时已收取的"
        "手续费不予退还；客服人员电话营销时口头表示“手续费很低，相当于年利率不到4%”。申请人于2026年8月提前结清"
        "全部分期，被申请人收取剩余期数手续费共计人民币1,920元，另因2026年9月一期账单逾期三日，收取逾期利息"
        "人民币450.50元及违约金人民币200元，并向征信机构报送了该期逾期记录。",
        "被申请人称，分期业务的收费标准已在《信用卡分期付款业务协议》第五条及手机银行分期页面载明，申请人勾选同意"
        "后办理，被申请人已尽告知义务；2026年9月的逾期系申请人未按期还款所致，逾期利息和违约金按领用合约计收。"
        "被申请人同时确认，2026年9月申请人曾致电客服申请延期还款，客服工单记录显示该申请因系统原因未能及时处理。",
        "调解员调取了分期办理时的页面截图、电话营销录音、客服工单记录和账单明细。经核对，办理页面未按《关于进一步"
        "规范信用卡业务的通知》的要求以明显方式展示分期业务的年化利率；电话营销录音中的“年利率不到4%”与实际"
        "折合年化利率（约7.6%）不符；客服工单显示申请人于到期日前一日已申请延期还款。",
    ]
)
DISPUTE = "\n".join(
    [
        "一、被申请人办理分期业务时是否充分履行了收费告知义务，提前结清时收取的剩余期数手续费应否退还；",
        "二、2026年9月一期账单的逾期利息和违约金应否减免，相关逾期记录应否向征信机构申请更正；",
        "三、申请人要求被申请人赔偿其为处理本纠纷支出的交通费、误工费等损失，是否有事实和法律依据。",
        "双方经调解员主持，在第二次调解会谈中就上述争议逐项协商，在自愿、平等的基础上达成如下协议。",
    ]
)
OTHER_TERMS = [
    "被申请人应于本协议生效之日起十日内，在手机银行分期页面补充展示分期业务的年化利率及提前还款的收费规则。",
    "申请人确认，被申请人按本协议履行完毕后，申请人不再就本纠纷向任何机构提出投诉、举报或者诉讼。",
    "任何一方未按本协议履行的，另一方可以依法申请司法确认后向人民法院申请强制执行。",
    "本协议自各方当事人签名或者盖章、调解员签名并加盖调解组织印章之日起生效。",
    "本协议一式四份电子文本，各方当事人、调解员及调解组织各执一份，具有同等效力。",
    "双方就本纠纷再无其他争议。",
]


# --- set-up -----------------------------------------------------------------------------------


def _configure() -> dict[str, Any]:
    from bench.common import configure_isolated

    where = configure_isolated(NAME)
    from django.conf import settings

    return {
        **where,
        "pki_dir": str(settings.SIGNING_PKI_DIR),
        "tsa": settings.SIGNING_TSA_URL or "built-in, in-process (signing.tsa.TimeStampAuthority)",
    }


def _people() -> dict[str, Any]:
    from mediation.models import Organisation, Role
    from tests import factories

    if Organisation.objects.exists():
        raise SystemExit("bench.signing needs an empty database; unset DATABASE_URL to use its own SQLite file")
    centre = factories.organisation(Organisation.Kind.CENTRE, "广东金融消费纠纷调解中心", region="广东省广州市")
    bank = factories.organisation(Organisation.Kind.INSTITUTION, "华南商业银行", region="广东省广州市")
    return {
        "centre": centre,
        "bank": bank,
        "consumer": factories.user("bench_consumer", Role.CONSUMER, real_name="张三"),
        "bank_agent": factories.user("bench_bank_agent", Role.INSTITUTION_AGENT, bank, real_name="赵经理"),
        "mediator": factories.pool_mediator("bench_mediator", centre, real_name="吴调解员"),
        "case_manager": factories.user(
            "bench_case_manager", Role.CASE_MANAGER, centre, real_name="冯主任", is_staff=True
        ),
    }


def _finalised_agreement(people: dict[str, Any]) -> Any:
    """A case driven to MEDIATING as tests/conftest.py ``mediating_case`` does, its agreement finalised."""
    from mediation import services
    from signing import drafting
    from tests import factories
    from tests.signing_helpers import agreed_terms

    consumer, agent, manager, mediator = (
        people["consumer"],
        people["bank_agent"],
        people["case_manager"],
        people["mediator"],
    )
    case = factories.complaint(consumer, people["bank"], people["centre"])
    services.accept_case(case, actor=manager)
    services.transfer_to_institution(case, actor=manager)
    services.answer_complaint(case, agent=agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(case, consumer=consumer)
    services.record_institution_consent(case, agent=agent, consent=True)
    services.assign_mediator(case, actor=manager, mediator=mediator)
    case = factories.accept_assignment(case, mediator=mediator)
    agreement = drafting.start_agreement(case, actor=mediator)
    terms = agreed_terms(
        payment_amount="2570.50",
        instalments=[],
        payment_due=(datetime.date.today() + datetime.timedelta(days=15)).isoformat(),
        waivers=[
            {"kind": "interest", "amount": "450.50", "description": "免除2026年9月账单逾期利息"},
            {"kind": "penalty", "amount": "200.00", "description": "免除2026年9月账单违约金"},
            {"kind": "fee", "amount": "1920.00", "description": "退还提前结清时收取的剩余期数分期手续费"},
        ],
        performance="被申请人于付款期限届满前将款项一次性转入申请人尾号0817的本人借记卡，并以短信告知申请人。",
        other_terms=OTHER_TERMS,
    )
    version = drafting.save_version(
        agreement, actor=mediator, facts=FACTS, dispute=DISPUTE, terms=terms, change_note="第二次调解会谈后定稿"
    )
    return drafting.finalise(agreement, actor=mediator, version=version)


# --- the baselines -------------------------------------------------------------------------------


def _agreement_text(agreement: Any, slots: list[Any]) -> str:
    """The words of the agreement as rendered: the template's HTML, captured once, tags stripped."""
    from django.utils.html import strip_tags

    from signing import render

    captured: dict[str, str] = {}
    real = render.render_to_string

    def capture(template_name: Any, context: Any = None, *args: Any, **kwargs: Any) -> str:
        output = real(template_name, context, *args, **kwargs)
        captured[str(template_name)] = output
        return output

    with mock.patch.object(render, "render_to_string", capture):
        render.render_agreement(agreement.final_version, slots)
    markup = captured["signing/pdf/agreement.html"]
    markup = re.sub(r"<(style|script)\b.*?</\1>", "", markup, flags=re.S)
    markup = re.sub(r"<br\s*/?>|</(p|div|h\d|li|tr|td|th|section|header|footer|table)>", "\n", markup)
    lines = (re.sub(r"\s+", " ", line).strip() for line in html.unescape(strip_tags(markup)).splitlines())
    return "\n".join(line for line in lines if line)


def _plain_render(text: str) -> Callable[[], bytes]:
    """WeasyPrint on a plain page of ``text``: same pinned font, font size, A4 and margins."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    from signing.fonts import pinned_font

    font = pinned_font()
    css = (
        f'@font-face {{ font-family: "Plain"; src: url("{font.uri}"); }}\n'
        'html { font-family: "Plain"; font-size: 10.5pt; line-height: 1.75; }\n'
        "@page { size: A4; margin: 26mm 20mm 22mm 20mm; }\n"
    )
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines())
    page = f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><body>{body}</body></html>'

    def write() -> bytes:
        font_config = FontConfiguration()
        stylesheet = weasyprint.CSS(string=css, font_config=font_config)
        pdf: bytes = weasyprint.HTML(string=page).write_pdf(stylesheets=[stylesheet], font_config=font_config)
        return pdf

    return write


def _pkcs12_signer_material() -> tuple[bytes, bytes]:
    """A PKCS#12 file (RSA-2048, issued by our issuing CA, chain included) and its passphrase."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    from signing import pki

    authority = pki.authority()
    key = rsa.generate_private_key(public_exponent=65537, key_size=pki.LEAF_KEY_BITS)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Benchmark PKCS12 Signer")]))
        .issuer_name(authority.issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(authority.issuing_key, hashes.SHA256())
    )
    passphrase = b"bench-pkcs12-passphrase"
    data = pkcs12.serialize_key_and_certificates(
        b"bench", key, certificate, [authority.issuing, authority.root], BestAvailableEncryption(passphrase)
    )
    return data, passphrase


def _pkcs12_sign(pdf: bytes, field_name: str, p12: bytes, passphrase: bytes) -> bytes:
    """The library's plain path: load the PKCS#12 file, sign with the same metadata and TSA."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from signing import tsa

    signer = signers.SimpleSigner.load_pkcs12_data(p12, other_certs=[], passphrase=passphrase)
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="同意本调解协议",
        location="枫桥金融纠纷在线调解平台",
    )
    output = signers.PdfSigner(metadata, signer=signer, timestamper=tsa.timestamper()).sign_pdf(
        IncrementalPdfFileWriter(BytesIO(pdf))
    )
    return output.getvalue()  # type: ignore[union-attr]


# --- measuring -----------------------------------------------------------------------------------


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _ms(started: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU (this process) milliseconds since ``started``: the CPU figure barely moves when
    other work competes for the cores, the wall figure does."""
    wall, cpu = started
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _read(revision: Any) -> bytes:
    with revision.file.open("rb") as handle:
        data: bytes = handle.read()
        return data


def _page_count(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(BytesIO(pdf)).root["/Pages"]["/Count"])


def _one_agreement(
    agreement: Any, people: dict[str, Any], plain_render: Callable[[], bytes], p12: tuple[bytes, bytes]
) -> dict[str, Any]:
    """Every timed step on one finalised agreement; returns milliseconds per step and the sizes."""
    from signing import pki, render, services, verify
    from signing.keys import key_service
    from signing.models import Agreement

    samples: dict[str, tuple[float, float]] = {}
    baseline: dict[str, tuple[float, float]] = {}
    slots = services.signing_plan(agreement)

    started = _clock()
    render.render_agreement(agreement.final_version, slots)
    samples["render"] = _ms(started)

    started = _clock()
    plain_render()
    baseline["render"] = _ms(started)

    started = _clock()
    certificate = pki.authority().issue_event_certificate(people["consumer"])
    samples["event_certificate"] = _ms(started)
    key_service().after_signing(certificate)

    origin = services.Origin(ip="127.0.0.1", user_agent="bench.signing")
    signers = {
        "consumer-1": ("sign_consumer", people["consumer"]),
        "institution": ("sign_institution", people["bank_agent"]),
        "mediator-1": ("sign_mediator", people["mediator"]),
        "centre-seal": ("sign_centre_seal", people["case_manager"]),
    }
    flow_started = _clock()
    started = _clock()
    agreement = services.prepare_signing(agreement, actor=people["mediator"])
    samples["prepare"] = _ms(started)
    for slot in agreement.slots.order_by("position"):
        step, person = signers[slot.field_name]
        agreement = Agreement.objects.select_related("case").get(pk=agreement.pk)
        seen = services.latest_revision(agreement)
        assert seen is not None
        started = _clock()
        services._sign_verified(  # noqa: SLF001 - the person check (password + code) is not what is measured
            agreement,
            slot,
            user=person,
            seen=seen,
            request_token="",
            origin=origin,
            verification={"verification": "benchmark"},
        )
        samples[step] = _ms(started)
    samples["whole_flow"] = _ms(flow_started)

    agreement = Agreement.objects.get(pk=agreement.pk)
    if agreement.state != Agreement.State.EFFECTIVE:
        raise SystemExit(f"agreement {agreement.pk} is {agreement.state} after every signature")
    prepared = _read(agreement.revisions.get(number=0))
    final = _read(services.latest_revision(agreement))

    started = _clock()
    report = verify.verify_pdf(final)
    samples["verify"] = _ms(started)
    if not report.ok or len(report.signatures) != 4 or not report.timestamps:
        raise SystemExit(f"the signed agreement does not verify: {report.verdict}")

    started = _clock()
    plain_signed = _pkcs12_sign(prepared, "consumer-1", *p12)
    baseline["sign_consumer"] = _ms(started)

    return {
        "samples": samples,
        "baseline": baseline,
        "prepared_bytes": len(prepared),
        "final_bytes": len(final),
        "pages": _page_count(final),
        "plain_signed": plain_signed,
    }


def _summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    from bench.common import summarise

    cpu = sorted(c for _wall, c in samples)
    return {**summarise([wall for wall, _cpu in samples]), "cpu_median_ms": round(statistics.median(cpu), 2)}


def run(repeats: int) -> dict[str, Any]:
    where = _configure()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - started

    import weasyprint.text.ffi

    from signing import pki, services, verify
    from signing.fonts import pinned_font

    load_before = os.getloadavg()
    started = time.perf_counter()
    authority = pki.initialise()
    pinned_font()
    ca_seconds = time.perf_counter() - started

    started = time.perf_counter()
    people = _people()
    agreements = [_finalised_agreement(people) for _ in range(repeats + 1)]
    setup_seconds = time.perf_counter() - started

    first = agreements[0]
    text = _agreement_text(first, services.signing_plan(first))
    plain_render = _plain_render(text)
    plain_pdf = plain_render()
    p12 = _pkcs12_signer_material()

    # Warm-up (not counted): imports, fonts, stamps drawn and cached, seal certificates issued.
    warm = _one_agreement(first, people, plain_render, p12)
    check = verify.verify_pdf(warm["plain_signed"]).signatures
    if len(check) != 1 or not (check[0].intact and check[0].valid and check[0].timestamp_at):
        raise SystemExit("the PKCS#12 baseline signature does not verify")

    runs = [_one_agreement(agreement, people, plain_render, p12) for agreement in agreements[1:]]
    load_after = os.getloadavg()
    steps = {name: _summary([r["samples"][name] for r in runs]) for name in STEP_LABELS}
    baselines = {name: _summary([r["baseline"][name] for r in runs]) for name in BASELINE_LABELS}
    return {
        "repeats": repeats,
        **where,
        "harfbuzz_subset": weasyprint.text.ffi.harfbuzz_subset is not None,
        "ca_generated": authority.created,
        "setup_seconds": {
            "migrate": round(migrate_seconds, 1),
            "ca_and_font": round(ca_seconds, 1),
            "cases_and_agreements": round(setup_seconds, 1),
        },
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "agreement": {
            "pages": warm["pages"],
            "text_characters": len(text.replace("\n", "").replace(" ", "")),
            "prepared_pdf_bytes": warm["prepared_bytes"],
            "final_pdf_bytes": {
                "min": min(r["final_bytes"] for r in runs),
                "max": max(r["final_bytes"] for r in runs),
            },
        },
        "steps": steps,
        "baselines": {
            "render": {
                **baselines["render"],
                "what": "weasyprint.HTML(string=page).write_pdf(): the agreement's own text with tags stripped, "
                "one <p> per block, in the same pinned Noto Serif CJK SC (@font-face), 10.5pt, A4 and margins; "
                "no template CSS, running header/footer, QR code, JSON attachment or PDF/A-3b",
                "pages": _page_count(plain_pdf),
                "pdf_bytes": len(plain_pdf),
            },
            "sign_consumer": {
                **baselines["sign_consumer"],
                "what": "pyhanko SimpleSigner.load_pkcs12_data() on every signature (RSA-2048 from our issuing CA), "
                "the same revision-0 PDF and field consumer-1, PAdES, SHA-256, the same built-in TSA "
                "(signing.tsa.timestamper()), pyHanko's default appearance, no database or storage",
                "signed_pdf_bytes": len(warm["plain_signed"]),
            },
        },
    }


# --- reporting -----------------------------------------------------------------------------------


def _cell(figures: dict[str, Any] | None) -> str:
    return f"{figures['median_ms']:.1f} / {figures['p95_ms']:.1f}" if figures else ""


def _cpu(figures: dict[str, Any] | None) -> str:
    return f"{figures['cpu_median_ms']:.1f}" if figures else ""


def report(result: dict[str, Any]) -> Path:
    """Print the table and write ``bench/results/signing.json``; needs no Django."""
    from bench.common import git_revision, machine, print_table, versions, write_result

    rows = [
        [
            label,
            _cell(result["steps"][name]),
            _cpu(result["steps"][name]),
            _cell(result["baselines"].get(name)),
            _cpu(result["baselines"].get(name)),
            BASELINE_LABELS.get(name, ""),
        ]
        for name, label in STEP_LABELS.items()
    ]
    agreement = result["agreement"]
    sizes = agreement["final_pdf_bytes"]
    print_table(
        f"Signing one agreement ({agreement['pages']} pages, {agreement['text_characters']:,} characters): "
        f"wall median / p95 ms and CPU median ms over {result['repeats']} agreements",
        ["step", "ours ms", "CPU ms", "baseline ms", "CPU ms", "baseline"],
        rows,
    )
    size = f"{sizes['min']:,}" if sizes["min"] == sizes["max"] else f"{sizes['min']:,}–{sizes['max']:,}"
    plain = result["baselines"]["render"]
    print(
        f"\nPDF size: prepared (revision 0) {agreement['prepared_pdf_bytes']:,} bytes; fully signed {size} bytes; "
        f"plain baseline page {plain['pdf_bytes']:,} bytes ({plain['pages']} pages)."
    )
    print(f"Render baseline: {plain['what']}.")
    print(f"Signature baseline: {result['baselines']['sign_consumer']['what']}.")
    load = result["load_average_1min"]
    print(
        f"Load average (1 min) {load['before']} before, {load['after']} after; "
        f"HarfBuzz subset {'present' if result['harfbuzz_subset'] else 'MISSING'}."
    )
    path = write_result(
        NAME,
        {
            "benchmark": "signing one agreement: render, prepare, four signatures, seal, verify",
            "machine": machine(),
            "versions": versions(
                "django", "weasyprint", "pyhanko", "pyhanko-certvalidator", "cryptography", "asn1crypto"
            ),
            "revision": git_revision(),
            "method": "in-process against a fresh SQLite database and local file storage; one warm-up agreement "
            "not counted, then per repeat one new case driven to MEDIATING through mediation.services with its "
            "agreement finalised (untimed), and the wall time (time.perf_counter) and this process's CPU time "
            "(time.process_time; steadier when other work shares the cores) of each call on it: "
            "render.render_agreement, services.prepare_signing, services._sign_verified per slot in order, "
            "verify.verify_pdf; baselines measured in the same loop on the same agreement",
            "baseline": result["baselines"],
            "result": {key: value for key, value in result.items() if key != "baselines"},
        },
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", "10")))
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line, write nothing")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    result = run(args.repeats)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    path = report(result)
    print(f"\nwritten {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
