"""RFC 3161 timestamps of the log's head: the request, the reply's checks, the token's checks.

What is timestamped
-------------------

The message imprint of every request is the SHA-256 of the canonical JSON
(``log._chain.head_json``) of the head's sequence and hash, the bytes ::

    {"hash":"<64 lowercase hex>","sequence":<int>}

(no spaces, keys in this order, UTF-8), so a token binds the hash to its
place in the chain: a token for record 5367 cannot stand for another record
with the same hash. Anyone can check a token with OpenSSL alone
(``consentgate timestamps --save DIR`` writes SEQ.tst and SEQ.json)::

    openssl ts -verify -token_in -in SEQ.tst -data SEQ.json -CAfile tsa-root.pem

Each request carries a random 64-bit nonce and ``certReq``, so the reply
holds the TSA's certificate; a reply counts only if it is granted, answers
this very request (imprint and nonce) and its signature checks out. The token
kept is the CMS ``ContentInfo`` (DER) the TSA signed.

Checking a token
----------------

:func:`check_token` parses the token and checks that its imprint is that of
the stored sequence and hash; that the CMS signature over the signed
attributes verifies with the public key of the signer certificate the token
carries; that those attributes name the TSTInfo content and its digest; that
the ESS signing-certificate attribute names that certificate; that the
certificate may sign timestamps (extended key usage ``timeStamping``) and was
valid at the token's time; and, given trusted certificates, that it is one of
them or chains up to one, each certificate signed by the next.

This module needs ``consentgate[tsa]`` (asn1crypto, cryptography); nothing
imports it unless ``anchor_tsa_url`` is set or a log holds tokens.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from .log._chain import head_json

__all__ = [
    "CONTENT_TYPE",
    "REPLY_TYPE",
    "TimestampError",
    "TokenInfo",
    "check_reply",
    "check_token",
    "load_certificates",
    "new_request",
]

#: The media types of RFC 3161 over HTTP (section 3.4).
CONTENT_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"

#: Digests a signature may be made with; MD5 and SHA-1 are broken for this.
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
#: How many certificates a chain to a trusted one may have above the signer's.
_MAX_CHAIN = 8


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161's TimeStampResp, whose token is OPTIONAL (asn1crypto's requires it, so
    it cannot read a refusal)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class TimestampError(Exception):
    """A reply or token that proves nothing, and why."""


@dataclasses.dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a checked token says."""

    #: When the TSA says it saw the imprint (its ``genTime``).
    time: datetime
    #: The signer certificate's subject, e.g. ``CN=Example TSA,O=Example``.
    tsa: str
    #: The TSA's serial number of the token.
    serial: int


def _imprint(sequence: int, hash: str) -> bytes:
    return hashlib.sha256(head_json(sequence, hash)).digest()


def new_request(sequence: int, hash: str) -> tuple[bytes, int]:
    """A DER TimeStampReq for the head, and its nonce."""
    nonce = secrets.randbits(64)
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": _imprint(sequence, hash),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return request.dump(), nonce


def check_reply(body: bytes, sequence: int, hash: str, nonce: int) -> tuple[bytes, TokenInfo]:
    """The token (DER) of a TSA's reply to ``new_request``; TimestampError unless it counts."""
    try:
        reply = _TimeStampResp.load(body)
        status = reply["status"]
        granted = status["status"].native
        if granted not in ("granted", "granted_with_mods"):
            said = status["status_string"].native if status["status_string"] else None
            failure = sorted(status["fail_info"].native or ()) if status["fail_info"] else []
            detail = "; ".join(filter(None, [" ".join(said or ()), ", ".join(failure)]))
            raise TimestampError(f"the TSA refused: {granted}{f' ({detail})' if detail else ''}")
        token = reply["time_stamp_token"]
        if not token:
            raise TimestampError("the TSA granted the request but sent no token")
        der = token.dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"the reply is no RFC 3161 TimeStampResp: {exc}") from exc
    info = check_token(der, sequence, hash)
    got = _tst_info(cms.ContentInfo.load(der))["nonce"].native
    if got != nonce:
        raise TimestampError(f"the reply answers another request (nonce {got}, not {nonce})")
    return der, info


def check_token(
    der: bytes,
    sequence: int,
    hash: str,
    trusted: Sequence[x509.Certificate] = (),
) -> TokenInfo:
    """Check a stored token against the head it was kept with; TimestampError if it fails.

    With ``trusted`` certificates, the signer must be one of them or chain up to one.
    """
    try:
        return _check(der, sequence, hash, trusted)
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # asn1crypto parses lazily: a damaged token fails wherever it is first read.
        raise TimestampError(f"the token is malformed: {exc}") from exc


def _check(der: bytes, sequence: int, hash: str, trusted: Sequence[x509.Certificate]) -> TokenInfo:
    token = cms.ContentInfo.load(der, strict=True)
    tst = _tst_info(token)
    imprint = tst["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256":
        raise TimestampError("the token's imprint is not SHA-256")
    if imprint["hashed_message"].native != _imprint(sequence, hash):
        raise TimestampError(f"the token is for another head than record {sequence}:{hash}")
    signed: cms.SignedData = token["content"]
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise TimestampError(f"the token has {len(infos)} signers, not one")
    signer_info: cms.SignerInfo = infos[0]
    certificates = [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed["certificates"] or ()
        if choice.name == "certificate"
    ]
    signer = _signer(signer_info, certificates)
    time: datetime = tst["gen_time"].native
    _check_signature(signed, signer_info, signer)
    _check_signer(signer, time)
    if trusted:
        _check_chain(signer, certificates, trusted, time)
    return TokenInfo(
        time=time, tsa=signer.subject.rfc4514_string(), serial=tst["serial_number"].native
    )


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    if token["content_type"].native != "signed_data":
        raise TimestampError("the token is no CMS SignedData")
    content = token["content"]["encap_content_info"]
    if content["content_type"].native != "tst_info" or not content["content"]:
        raise TimestampError("the token signs no TSTInfo")
    tst: tsp.TSTInfo = content["content"].parsed
    return tst


def _signer(info: cms.SignerInfo, certificates: list[x509.Certificate]) -> x509.Certificate:
    """The certificate the signer info names, among those the token carries."""
    sid = info["sid"]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            match = (
                certificate.serial_number == sid.chosen["serial_number"].native
                and certificate.issuer.public_bytes() == sid.chosen["issuer"].dump()
            )
        else:
            try:
                key_id = certificate.extensions.get_extension_for_class(
                    x509.SubjectKeyIdentifier
                ).value.digest
            except x509.ExtensionNotFound:
                continue
            match = key_id == sid.chosen.native
        if match:
            return certificate
    if not certificates:
        raise TimestampError("the token carries no certificate (was certReq sent?)")
    raise TimestampError("the token does not carry its signer's certificate")


def _check_signature(
    signed: cms.SignedData, info: cms.SignerInfo, signer: x509.Certificate
) -> None:
    """The signature over the signed attributes, and what those attributes vouch for."""
    attributes = info["signed_attrs"]
    if not attributes:
        raise TimestampError("the token's signature covers no signed attributes")
    digest_name = info["digest_algorithm"]["algorithm"].native
    algorithm = _HASHES.get(digest_name)
    if algorithm is None:
        raise TimestampError(f"the token is signed with digest {digest_name}, which is not safe")
    values = {attribute["type"].native: attribute["values"] for attribute in attributes}
    if [v.native for v in values.get("content_type", ())] != ["tst_info"]:
        raise TimestampError("the token's signed attributes name another content type")
    content = bytes(signed["encap_content_info"]["content"])
    if [v.native for v in values.get("message_digest", ())] != [_digest(algorithm, content)]:
        raise TimestampError("the token's TSTInfo does not match its signed digest")
    _check_signing_certificate(values, signer)
    # The signature is over the attributes' DER as a SET OF, not as the [0] they are stored as.
    data = b"\x31" + attributes.dump()[1:]
    _verify(signer.public_key(), info["signature"].native, data, info, algorithm())


def _check_signing_certificate(values: dict[str, cms.SetOfAny], signer: x509.Certificate) -> None:
    """RFC 3161 (and RFC 5816) have the TSA sign which certificate is its own."""
    der = signer.public_bytes(Encoding.DER)
    if "signing_certificate_v2" in values:
        ids = values["signing_certificate_v2"][0]["certs"]
        first = ids[0]
        name = first["hash_algorithm"]["algorithm"].native
        algorithm = _HASHES.get(name)
        if algorithm is None:
            raise TimestampError(f"the token names its certificate by {name}, which is not safe")
        expected = _digest(algorithm, der)
    elif "signing_certificate" in values:
        first = values["signing_certificate"][0]["certs"][0]
        expected = hashlib.sha1(der, usedforsecurity=False).digest()
    else:
        raise TimestampError("the token does not sign which certificate is the TSA's")
    if first["cert_hash"].native != expected:
        raise TimestampError("the token's signed certificate is not the one it carries")


def _digest(algorithm: type[hashes.HashAlgorithm], data: bytes) -> bytes:
    digest = hashes.Hash(algorithm())
    digest.update(data)
    return digest.finalize()


def _verify(
    key: object, signature: bytes, data: bytes, info: cms.SignerInfo, digest: hashes.HashAlgorithm
) -> None:
    algorithm: algos.SignedDigestAlgorithm = info["signature_algorithm"]
    kind = algorithm.signature_algo
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            params = algorithm["parameters"]
            mgf_digest = _HASHES.get(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            if mgf_digest is None:
                raise TimestampError("the token's RSA-PSS mask uses an unsafe digest")
            pss = padding.PSS(padding.MGF1(mgf_digest()), params["salt_length"].native)
            key.verify(signature, data, pss, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) and kind in (
            "ed25519",
            "ed448",
        ):
            key.verify(signature, data)
        else:
            raise TimestampError(
                f"the token's signature ({kind}) does not fit its certificate's key"
            )
    except InvalidSignature:
        raise TimestampError("the token's signature does not verify with its certificate") from None


def _check_signer(signer: x509.Certificate, time: datetime) -> None:
    try:
        usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or ExtendedKeyUsageOID.TIME_STAMPING not in usage:
        raise TimestampError("the token's certificate is not one for signing timestamps")
    _check_valid(signer, time)


def _check_valid(certificate: x509.Certificate, time: datetime) -> None:
    if not certificate.not_valid_before_utc <= time <= certificate.not_valid_after_utc:
        raise TimestampError(
            f"the certificate {certificate.subject.rfc4514_string()} was not valid "
            f"at the token's time, {time.isoformat()}"
        )


def _check_chain(
    signer: x509.Certificate,
    carried: list[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    time: datetime,
) -> None:
    """The signer is trusted, or each certificate up to a trusted one signs the one below."""
    certificate = signer
    for _ in range(_MAX_CHAIN + 1):
        if certificate in trusted:
            return
        for issuer in (*trusted, *carried):
            if issuer == certificate or issuer.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if not _is_ca(issuer):
                continue
            _check_valid(issuer, time)
            if issuer in trusted:
                return
            certificate = issuer
            break
        else:
            break
    raise TimestampError(
        f"the TSA's certificate ({signer.subject.rfc4514_string()}) does not chain to "
        "a trusted certificate"
    )


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Certificates from PEM text (one or more); ValueError if there are none."""
    return x509.load_pem_x509_certificates(pem)
