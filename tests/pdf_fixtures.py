"""Signed test PDFs built the way the platform builds them, with a test PKI of their own.

The PKI (root → issuing CA → signers, a TSA with a critical timeStamping EKU, and a foreign root with
a signer of its own) is generated once per process: RSA key generation is the slow part. The PDFs
are real: WeasyPrint renders a small Chinese agreement, three signature fields are created before
the first signature (the last one locks the document on signing), and each party signs in its own
incremental update with a B-T timestamp from pyHanko's in-process ``DummyTimeStamper``.

Everything returns ``bytes`` (cached where it is deterministic enough to share), so a test that
tampers with a file works on its own copy.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO

import weasyprint
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.files.base import ContentFile
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.stamp import text as stamp
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from mediation.models import Case
from signing.models import Agreement, DisputeTemplate, PdfRevision, SignatureSlot

CRL_URL = "http://pki.fengqiao.test/issuing.crl"
FIELDS = ("consumer-1", "institution", "centre-seal")
# Field boxes in PDF points on page 0 (origin bottom-left), side by side near the bottom of an A4 page.
BOXES = {"consumer-1": (60, 80, 200, 140), "institution": (220, 80, 360, 140), "centre-seal": (380, 80, 520, 140)}

AGREEMENT_HTML = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><style>
html { font-family: "Noto Sans CJK SC", sans-serif; font-size: 11pt; }
@page { size: A4; margin: 20mm; @top-center { content: "（2026）粤金调字第 0001 号"; } }
</style></head><body>
<h1>调解协议书</h1>
<p>申请人：张三。被申请人：华南商业银行。</p>
<p>主要事实：申请人信用卡分期手续费争议。</p>
<p>协议条款：被申请人于2026年12月31日前退还手续费人民币一千二百元。</p>
</body></html>"""


@dataclass(frozen=True)
class Identity:
    """A certificate with its private key, in the shapes pyHanko and cryptography want."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @property
    def asn1_certificate(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.certificate.public_bytes(serialization.Encoding.DER))

    @property
    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        der = self.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return asn1_keys.PrivateKeyInfo.load(der)

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "x")


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@functools.cache
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _issue(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: Identity | None,
    *,
    ca: bool = False,
    tsa: bool = False,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Identity:
    now = datetime.now(UTC)
    not_before = not_before or now - timedelta(days=30)
    not_after = not_after or now + timedelta(days=3650 if ca else 365)
    signing_key = issuer.private_key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if ca:
        usage = {"key_cert_sign": True, "crl_sign": True}
    elif tsa:
        usage = {"digital_signature": True}
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    else:
        usage = {"digital_signature": True, "content_commitment": True}
    if not ca:
        # Declared, so that certvalidator consults the CRLs handed to it (soft-fail checks only declared ones).
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(CRL_URL)], None, None, None)]
            ),
            critical=False,
        )
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(usage)
    builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    certificate = builder.sign(signing_key, hashes.SHA256())
    return Identity(certificate, key)


@dataclass(frozen=True)
class TestPki:
    root: Identity
    issuing: Identity
    tsa: Identity
    signers: dict[str, Identity]
    foreign_root: Identity
    foreign_signer: Identity

    def validation_context(self, *, crls: tuple[bytes, ...] = ()) -> ValidationContext:
        """Our root as the only trust anchor, the issuing CA known, nothing fetched (soft-fail revocation)."""
        return ValidationContext(
            trust_roots=[self.root.asn1_certificate],
            other_certs=[self.issuing.asn1_certificate],
            crls=list(crls),
            allow_fetching=False,
        )

    def crl(self, revoked: dict[str, datetime]) -> bytes:
        """A CRL of the issuing CA revoking the named signers at the given times (DER)."""
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.certificate.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + timedelta(days=1))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing.private_key.public_key()),
                critical=False,
            )
        )
        for name, when in revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(self.signers[name].certificate.serial_number)
                .revocation_date(when)
                .build()
            )
        return builder.sign(self.issuing.private_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def timestamper(self, at: datetime | None = None) -> DummyTimeStamper:
        return DummyTimeStamper(
            tsa_cert=self.tsa.asn1_certificate,
            tsa_key=self.tsa.asn1_key,
            certs_to_embed=SimpleCertificateStore.from_certs([self.issuing.asn1_certificate]),
            fixed_dt=at,
        )

    def signer(self, identity: Identity, *chain: Identity) -> SimpleSigner:
        registry = SimpleCertificateStore.from_certs([c.asn1_certificate for c in chain or (self.issuing,)])
        return signers.SimpleSigner(
            signing_cert=identity.asn1_certificate, signing_key=identity.asn1_key, cert_registry=registry
        )


@functools.cache
def test_pki() -> TestPki:
    root = _issue(_name("枫桥测试根证书", "枫桥测试CA"), _rsa_key("root"), None, ca=True)
    issuing = _issue(_name("枫桥测试签发CA", "枫桥测试CA"), _rsa_key("issuing"), root, ca=True)
    tsa = _issue(_name("枫桥测试时间戳服务", "枫桥测试CA"), _rsa_key("tsa"), issuing, tsa=True)
    now = datetime.now(UTC)
    signers_ = {
        "consumer-1": _issue(_name("张三"), _rsa_key("consumer-1"), issuing),
        "institution": _issue(_name("华南商业银行", "华南商业银行"), _rsa_key("institution"), issuing),
        "centre-seal": _issue(
            _name("广东金融消费纠纷调解中心", "广东金融消费纠纷调解中心"), _rsa_key("centre-seal"), issuing
        ),
        # A short-lived event certificate that expired yesterday: valid at its timestamp, not now.
        "expired": _issue(
            _name("李四"),
            _rsa_key("expired"),
            issuing,
            not_before=now - timedelta(days=2),
            not_after=now - timedelta(days=1),
        ),
    }
    foreign_root = _issue(_name("其他根证书", "其他CA"), _rsa_key("foreign-root"), None, ca=True)
    foreign_signer = _issue(_name("张三"), _rsa_key("foreign-signer"), foreign_root)
    return TestPki(root, issuing, tsa, signers_, foreign_root, foreign_signer)


@functools.cache
def rendered_agreement() -> bytes:
    """The Chinese agreement as WeasyPrint renders it, without any signature field."""
    return weasyprint.HTML(string=AGREEMENT_HTML).write_pdf()  # type: ignore[no-any-return]


@functools.cache
def prepared_agreement() -> bytes:
    """Revision 0: every signature field created up front, the last one locking the document."""
    writer = IncrementalPdfFileWriter(BytesIO(rendered_agreement()))
    for name in FIELDS:
        last = name == FIELDS[-1]
        fields.append_signature_field(
            writer,
            fields.SigFieldSpec(
                name,
                on_page=0,
                box=BOXES[name],
                field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.ALL) if last else None,
                doc_mdp_update_value=fields.MDPPerm.NO_CHANGES if last else None,
            ),
        )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(
    pdf: bytes,
    field_name: str,
    identity: Identity | None = None,
    *,
    chain: tuple[Identity, ...] = (),
    timestamp_at: datetime | None = None,
    timestamp: bool = True,
    timestamper: TimeStamper | None = None,
    lta_crls: tuple[bytes, ...] | None = None,
    signer: Signer | None = None,
) -> bytes:
    """Add one signature (B-T unless ``timestamp`` is false) in a new incremental update.

    ``lta_crls``: make it B-LTA like the centre seal: validation data (these CRLs) in the DSS and a
    document timestamp on top.
    """
    pki = test_pki()
    identity = identity or pki.signers[field_name]
    lta = lta_crls is not None
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="同意本调解协议",
        embed_validation_info=lta,
        use_pades_lta=lta,
        validation_context=pki.validation_context(crls=lta_crls) if lta_crls is not None else None,
    )
    if timestamper is None and timestamp:
        timestamper = pki.timestamper(timestamp_at)
    pdf_signer = signers.PdfSigner(
        metadata,
        signer=signer or pki.signer(identity, *chain),
        timestamper=timestamper,
        # pyHanko's default stamp sets the signer's name in a Latin font (P5); keep the appearance ASCII.
        stamp_style=stamp.TextStampStyle(stamp_text="Signed %(ts)s"),
    )
    out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
    return out.getvalue()  # type: ignore[union-attr]


@functools.cache
def signed_revisions() -> tuple[bytes, ...]:
    """Revision 0 (prepared) and one revision per signature, in the fixed field order."""
    revisions = [prepared_agreement()]
    for name in FIELDS:
        revisions.append(sign(revisions[-1], name))
    return tuple(revisions)


def fully_signed() -> bytes:
    return signed_revisions()[-1]


@functools.cache
def fully_signed_lta() -> bytes:
    """As the platform finishes an agreement: the centre seal with validation data and a document timestamp."""
    pki = test_pki()
    return sign(signed_revisions()[-2], FIELDS[-1], lta_crls=(pki.crl({}),))


def flip_byte_in_signed_range(pdf: bytes) -> bytes:
    """Change one byte of page content covered by every signature (same length, so offsets still hold)."""
    marker = pdf.index(b"stream\n", pdf.index(b"/Length")) + len(b"stream\n")
    tampered = bytearray(pdf)
    tampered[marker + 5] ^= 0x01
    return bytes(tampered)


def rotate_page_after_signing(pdf: bytes) -> bytes:
    """A malicious incremental update after the last signature: page 0 turned upside down (P14)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(180)
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def add_content_after_signing(pdf: bytes, text: bytes = b"BT /F1 24 Tf 100 700 Td (PAID) Tj ET") -> bytes:
    """A malicious incremental update: an extra content stream drawn onto page 0."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    stream = generic.StreamObject(stream_data=text)
    stream_ref = writer.add_object(stream)
    contents = page.raw_get("/Contents")
    if isinstance(contents, generic.ArrayObject):
        new_contents = generic.ArrayObject([*contents, stream_ref])
    else:
        new_contents = generic.ArrayObject([contents, stream_ref])
    page["/Contents"] = new_contents
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def replace_page_after_signing(pdf: bytes) -> bytes:
    """A malicious incremental update: page 0 swapped for a page of another rendering with a smaller amount.

    The signature widgets are carried over, so the forged page still shows every signature.
    """
    forged = PdfFileReader(BytesIO(weasyprint.HTML(string=AGREEMENT_HTML.replace("一千二百", "一百")).write_pdf()))
    forged_page = forged.root["/Pages"]["/Kids"][0].get_object()
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    pages = writer.root["/Pages"]
    kids = pages["/Kids"]
    original = kids[0].get_object()
    page = generic.DictionaryObject(
        {key: writer.import_object(forged_page.raw_get(key)) for key in forged_page if key != "/Parent"}
    )
    page["/Parent"] = writer.root.raw_get("/Pages")
    page["/Annots"] = original.raw_get("/Annots")
    kids[0] = writer.add_object(page)
    writer.update_container(kids)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the same files as an agreement of the platform --------------------------------------------

SLOT_ROLES = {
    "consumer-1": ("consumer", 1, "张三"),
    "institution": ("institution", 1, "华南商业银行"),
    "centre-seal": ("centre", 3, "广东金融消费纠纷调解中心"),
}


def store_agreement(
    case: Case,
    revisions: Sequence[bytes],
    *,
    short_code: str = "QX7K2M9P",
    state: str = "signing",
    effective_at: datetime | None = None,
) -> Agreement:
    """An agreement whose PdfRevisions are ``revisions`` (number 0 first), written to the file storage.

    Revision ``n`` carries the ``n``-th signature, so the first ``len(revisions) - 1`` slots are signed.
    """
    agreement = Agreement.objects.create(
        case=case,
        template=DisputeTemplate.CREDIT_CARD,
        state=state,
        short_code=short_code,
        effective_at=effective_at,
    )
    slots = []
    for position, name in enumerate(FIELDS):
        role, stage, label = SLOT_ROLES[name]
        signed = position < len(revisions) - 1
        slots.append(
            SignatureSlot.objects.create(
                agreement=agreement,
                position=position,
                stage=stage,
                role=role,
                field_name=name,
                label=label,
                status=SignatureSlot.Status.SIGNED if signed else SignatureSlot.Status.PENDING,
                signed_at=datetime.now(UTC) if signed else None,
            )
        )
    for number, data in enumerate(revisions):
        PdfRevision.objects.create(
            agreement=agreement,
            number=number,
            slot=slots[number - 1] if number else None,
            file=ContentFile(data, name=f"revision-{number}.pdf"),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            sm3=hashlib.new("sm3", data).hexdigest(),
        )
    return agreement
