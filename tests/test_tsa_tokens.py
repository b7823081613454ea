"""What makes an RFC 3161 token count (consentgate._tsa), one check at a time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from consentgate._tsa import TimestampError, check_reply, check_token, new_request
from consentgate.log._chain import head_json

from .tsa_server import Authority, TimestampAuthority

HASH = "3f" * 32
SEQUENCE = 5367


def token_of(authority: Authority, *, sequence: int = SEQUENCE, hash: str = HASH) -> bytes:
    imprint = hashlib.sha256(head_json(sequence, hash)).digest()
    return bytes(authority.token(imprint, 42).dump())


def refused(der: bytes, *trusted: Authority) -> str:
    roots = [authority.root for authority in trusted]
    with pytest.raises(TimestampError) as caught:
        check_token(der, SEQUENCE, HASH, roots)
    return str(caught.value)


@pytest.mark.parametrize("key", ["ec", "rsa", "ed25519"])
def test_a_token_verifies_with_each_kind_of_key(key: str) -> None:
    authority = Authority(key=key)
    info = check_token(token_of(authority), SEQUENCE, HASH, [authority.root])
    assert info.tsa == "O=consentgate tests,CN=Test TSA"
    assert abs(info.time - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_imprint_binds_the_sequence_as_well_as_the_hash() -> None:
    authority = Authority()
    with pytest.raises(TimestampError, match="for another head than record 5368"):
        check_token(token_of(authority), SEQUENCE + 1, HASH)


def test_a_chain_through_an_intermediate_reaches_the_root() -> None:
    authority = Authority(intermediate=True)
    check_token(token_of(authority), SEQUENCE, HASH, [authority.root])
    # Trusting the TSA's own certificate (pinning it) is enough as well.
    check_token(token_of(authority), SEQUENCE, HASH, [authority.certificate])


def test_an_intermediate_that_is_no_ca_breaks_the_chain() -> None:
    authority = Authority(intermediate=True, intermediate_is_ca=False)
    assert "does not chain to a trusted certificate" in refused(token_of(authority), authority)


def test_a_tsa_certificate_of_ones_own_is_caught_only_with_trusted_roots() -> None:
    forger = Authority(name="Test TSA")
    real = Authority(name="Test TSA")
    der = token_of(forger)
    check_token(der, SEQUENCE, HASH)  # signature and certificate fit each other
    assert "does not chain to a trusted certificate" in refused(der, real)


def test_a_certificate_not_for_timestamping_is_refused() -> None:
    authority = Authority(time_stamping=False)
    assert "not one for signing timestamps" in refused(token_of(authority))


def test_a_certificate_expired_at_the_tokens_time_is_refused() -> None:
    now = datetime.now(UTC)
    authority = Authority(valid=(now - timedelta(days=30), now - timedelta(days=1)))
    assert "was not valid at the token's time" in refused(token_of(authority))


def test_the_signed_certificate_must_be_the_one_carried() -> None:
    authority = Authority()
    authority.named_certificate = authority.root
    assert "signed certificate is not the one it carries" in refused(token_of(authority))


def test_a_token_without_certificates_is_refused() -> None:
    authority = Authority()
    authority.carry_certificate = False
    assert "carries no certificate" in refused(token_of(authority))


def test_a_token_signed_by_another_key_is_refused() -> None:
    authority, other = Authority(), Authority()
    authority.key = other.key
    assert "signature does not verify" in refused(token_of(authority))


@pytest.mark.parametrize("offset", [0, 10, 100, 300, -80, -40, -3])
def test_any_flipped_byte_is_refused_not_a_crash(offset: int) -> None:
    der = bytearray(token_of(Authority()))
    der[offset] ^= 0x40
    with pytest.raises(TimestampError):
        check_token(bytes(der), SEQUENCE, HASH)


def test_a_reply_is_checked_against_its_own_request() -> None:
    tsa = TimestampAuthority()
    try:
        body, nonce = new_request(SEQUENCE, HASH)
        _, reply = tsa.answer(body, "application/timestamp-query")
        der, info = check_reply(reply, SEQUENCE, HASH, nonce)
        assert check_token(der, SEQUENCE, HASH) == info
        with pytest.raises(TimestampError, match="answers another request"):
            check_reply(reply, SEQUENCE, HASH, nonce + 1)
        with pytest.raises(TimestampError, match="no RFC 3161 TimeStampResp"):
            check_reply(b"<html>502 Bad Gateway</html>", SEQUENCE, HASH, nonce)
    finally:
        tsa.server.server_close()
