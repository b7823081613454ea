"""A real RFC 3161 timestamp authority on 127.0.0.1, for the timestamping tests.

It reads TimeStampReq bodies POSTed to it with asn1crypto and answers
TimeStampResp bodies signed (CMS SignedData over a TSTInfo) with a key and
certificates made here with ``cryptography``: a self-signed root, and the
TSA's certificate it issued, which is the one with ``timeStamping`` usage.
Knobs make it misbehave the ways a TSA or the network can.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from asn1crypto import algos, cms, core, tsp, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Authority", "TimestampAuthority", "running_tsa"]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "consentgate tests"),
        ]
    )


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: Any,
    issuer_key: Any,
    *,
    ca: bool,
    usage: list[x509.ObjectIdentifier] | None = None,
    valid: tuple[datetime, datetime] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    start, end = valid or (now - timedelta(days=1), now + timedelta(days=365))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=None if not ca else 1), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=True)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm)


class Authority:
    """A root certificate and the TSA certificate it issued (perhaps through an
    intermediate one), with their keys."""

    def __init__(
        self,
        *,
        name: str = "Test TSA",
        key: str = "ec",
        rsa_key: bool = False,
        intermediate: bool = False,
        intermediate_is_ca: bool = True,
        time_stamping: bool = True,
        valid: tuple[datetime, datetime] | None = None,
    ) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name(f"{name} Root")
        self.root = _certificate(
            root_name, root_name, self.root_key.public_key(), self.root_key, ca=True
        )
        issuer_name, issuer_key = root_name, self.root_key
        #: Certificates between the root and the TSA's, carried in each token.
        self.chain: list[x509.Certificate] = []
        if intermediate:
            middle_key = ec.generate_private_key(ec.SECP256R1())
            middle_name = _name(f"{name} Intermediate")
            self.chain.append(
                _certificate(
                    middle_name,
                    root_name,
                    middle_key.public_key(),
                    self.root_key,
                    ca=intermediate_is_ca,
                )
            )
            issuer_name, issuer_key = middle_name, middle_key
        if rsa_key:
            key = "rsa"
        self.key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if key == "rsa"
            else ed25519.Ed25519PrivateKey.generate()
            if key == "ed25519"
            else ec.generate_private_key(ec.SECP256R1())
        )
        usage = [
            ExtendedKeyUsageOID.TIME_STAMPING if time_stamping else ExtendedKeyUsageOID.CODE_SIGNING
        ]
        self.certificate = _certificate(
            _name(name),
            issuer_name,
            self.key.public_key(),
            issuer_key,
            ca=False,
            usage=usage,
            valid=valid,
        )
        #: Put the TSA's certificate in the token (certReq).
        self.carry_certificate = True
        #: The certificate the signed ESS attribute names, if not the TSA's own.
        self.named_certificate: x509.Certificate | None = None
        self._serials = itertools.count(1)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def token(
        self, hashed_message: bytes, nonce: int | None, *, at: datetime | None = None
    ) -> cms.ContentInfo:
        """A timestamp token (CMS SignedData over a TSTInfo) for a SHA-256 imprint."""
        info: dict[str, Any] = {
            "version": "v1",
            "policy": "1.3.6.1.4.1.99999.1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashed_message,
            },
            "serial_number": next(self._serials),
            "gen_time": (at or datetime.now(UTC)).replace(microsecond=0),
        }
        if nonce is not None:
            info["nonce"] = nonce
        content = tsp.TSTInfo(info).dump()
        certificate_der = self.certificate.public_bytes(serialization.Encoding.DER)
        named = (self.named_certificate or self.certificate).public_bytes(
            serialization.Encoding.DER
        )
        attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
            ),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [{"certs": [{"cert_hash": hashlib.sha256(named).digest()}]}],
                }
            ),
        ]
        # DER orders a SET OF by encoding, as OpenSSL does when it checks the signature.
        signed_attributes = cms.CMSAttributes(sorted(attributes, key=lambda a: a.dump()))
        data = signed_attributes.dump()
        if isinstance(self.key, rsa.RSAPrivateKey):
            signature = self.key.sign(data, PKCS1v15(), hashes.SHA256())
            algorithm = "sha256_rsa"
        elif isinstance(self.key, ed25519.Ed25519PrivateKey):
            signature = self.key.sign(data)
            algorithm = "ed25519"
        else:
            signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
            algorithm = "sha256_ecdsa"
        certificate = asn1_x509.Certificate.load(certificate_der)
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": certificate.issuer,
                            "serial_number": certificate.serial_number,
                        }
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attributes,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
                "signature": signature,
            }
        )
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(content),
                },
                "certificates": (
                    [
                        certificate,
                        *(
                            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                            for c in self.chain
                        ),
                    ]
                    if self.carry_certificate
                    else []
                ),
                "signer_infos": [signer],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed})


class TimestampAuthority:
    """The TSA's HTTP side: answers POSTed requests, and can be told to misbehave."""

    def __init__(self, authority: Authority | None = None) -> None:
        self.authority = authority or Authority()
        #: The requests granted or not, parsed, in the order they came.
        self.requests: list[tsp.TimeStampReq] = []
        self.content_types: list[str] = []
        #: HTTP statuses to answer with, in turn, before answering properly.
        self.statuses: list[int] = []
        #: Refuse (PKIStatus rejection) every request.
        self.refuse = False
        #: Answer with a nonce or an imprint other than the request's.
        self.wrong_nonce = False
        self.wrong_imprint = False
        #: Seconds to wait before answering.
        self.delay = 0.0
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(tsa.delay)
                status, reply = tsa.answer(body, self.headers.get("Content-Type", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"

    def answer(self, body: bytes, content_type: str) -> tuple[int, bytes]:
        request = tsp.TimeStampReq.load(body)
        self.requests.append(request)
        self.content_types.append(content_type)
        if self.statuses:
            return self.statuses.pop(0), b""
        if self.refuse:
            status = tsp.PKIStatusInfo(
                {
                    "status": "rejection",
                    "status_string": ["policy not accepted"],
                    "fail_info": {"unaccepted_policy"},
                }
            ).dump()
            # A TimeStampResp without its (optional) token, which asn1crypto will not write.
            assert len(status) < 128
            return 200, bytes([0x30, len(status)]) + status
        imprint = request["message_imprint"]["hashed_message"].native
        nonce = request["nonce"].native
        if self.wrong_imprint:
            imprint = hashlib.sha256(b"something else").digest()
        if self.wrong_nonce:
            nonce += 1
        token = self.authority.token(imprint, nonce)
        reply = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return 200, reply.dump()

    async def wait_for(self, count: int, seconds: float = 10.0) -> None:
        import asyncio

        deadline = time.monotonic() + seconds
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)} of {count} requests came"
            await asyncio.sleep(0.01)


@contextmanager
def running_tsa(authority: Authority | None = None) -> Iterator[TimestampAuthority]:
    tsa = TimestampAuthority(authority)
    thread = threading.Thread(target=tsa.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tsa
    finally:
        tsa.server.shutdown()
        tsa.server.server_close()
