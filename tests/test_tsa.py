"""Timestamping the head (anchor_tsa_url): a real RFC 3161 TSA on 127.0.0.1, and verify."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import consentgate
from consentgate import ConfigurationError, ConsentConfig
from consentgate._cli import main
from consentgate.log import HeadTimestamp
from consentgate.log._chain import format_time, head_json

from .helpers import ListLog, choose, client_for, make_app, make_config, make_record
from .stores import Store
from .test_anchor import Receiver
from .tsa_server import Authority, TimestampAuthority, running_tsa

pytestmark = pytest.mark.anyio


@pytest.fixture
def tsa() -> Iterator[TimestampAuthority]:
    with running_tsa() as tsa:
        yield tsa


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("consentgate._anchor.RETRY_DELAYS", (0.01, 0.02, 0.03, 0.04))


async def kept(store: Store, count: int, seconds: float = 10.0) -> list[HeadTimestamp]:
    """The timestamps the log keeps, once there are ``count``."""
    deadline = time.monotonic() + seconds
    async with store.open() as log:
        while True:
            stamps = [s for s in await log.timestamps() if isinstance(s, HeadTimestamp)]
            if len(stamps) >= count:
                return stamps
            assert time.monotonic() < deadline, f"{len(stamps)} of {count} timestamps kept"
            await asyncio.sleep(0.02)


async def verify(
    store: Store, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str]:
    capsys.readouterr()
    status = await run(["verify", "--store", store.url, *options])
    return status, capsys.readouterr().out


async def timestamped_log(store: Store, authority: Authority, records: int = 3) -> HeadTimestamp:
    """A log of ``records`` records whose head the authority timestamped."""
    async with store.open() as log:
        for _ in range(records):
            await log.record(make_record())
        head = await log.head()
        token = authority.token(hashlib.sha256(head_json(head.sequence, head.hash)).digest(), 7)
        info_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
        stamp = HeadTimestamp(
            sequence=head.sequence, hash=head.hash, time=info_time, token=token.dump()
        )
        await log.add_timestamp(stamp)
    return stamp


async def run(argv: list[str]) -> int:
    """The command, off the event loop (it runs one of its own)."""
    return await asyncio.to_thread(main, argv)


# -- anchoring ---------------------------------------------------------------------------


async def test_each_anchoring_keeps_a_token_that_verify_checks(
    store: Store, tsa: TimestampAuthority, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = make_config(store=store.url, anchor_tsa_url=tsa.url, anchor_every_records=2)
    async with client_for(make_app(config)) as client:
        for action in ("accept_all", "reject_all"):
            await choose(client, action)
        [stamp] = await kept(store, 1)
    async with store.open() as log:
        head = await log.head()
    assert (stamp.sequence, stamp.hash) == (head.sequence, head.hash) == (2, head.hash)
    [request] = tsa.requests
    assert tsa.content_types == ["application/timestamp-query"]
    imprint = request["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].native == "sha256"
    assert imprint["hashed_message"].native == hashlib.sha256(head_json(2, head.hash)).digest()
    assert request["cert_req"].native is True and request["nonce"].native
    assert abs(stamp.time - datetime.now(UTC)) < timedelta(minutes=1)

    capsys.readouterr()
    assert await run(["timestamps", "--store", store.url]) == 0
    assert capsys.readouterr().out == f"2:{head.hash}  {format_time(stamp.time)}\n"
    status, out = await verify(store, capsys)
    assert status == 0, out
    assert "; 1 timestamp checked, the newest " in out
    assert "for record 2 by O=consentgate tests,CN=Test TSA" in out
    root = tmp_path / "root.pem"
    root.write_bytes(tsa.authority.root_pem())
    status, out = await verify(store, capsys, "--tsa-cert", str(root))
    assert status == 0 and "each chaining to a trusted certificate" in out, out


async def test_timestamps_come_with_anchor_url_too_and_go_on_as_the_log_grows(
    tsa: TimestampAuthority, tmp_path: Path
) -> None:
    receiver = Receiver()
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    try:
        store = f"sqlite:///{tmp_path / 'log.db'}"
        config = make_config(
            store=store, anchor_url=receiver.url, anchor_tsa_url=tsa.url, anchor_every_records=1
        )
        async with client_for(make_app(config)) as client:
            await choose(client, "accept_all")
            await receiver.wait_for(1)
            await tsa.wait_for(1)
            await choose(client, "reject_all")
            await receiver.wait_for(2)
            await tsa.wait_for(2)
            await asyncio.sleep(0.2)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert [body["sequence"] for body in receiver.bodies] == [1, 2]
    assert await run(["timestamps", "--store", store]) == 0
    assert await run(["verify", "--store", store]) == 0


async def test_a_slow_tsa_does_not_hold_up_the_visitor(tsa: TimestampAuthority) -> None:
    tsa.delay = 2.0
    config = make_config(anchor_tsa_url=tsa.url, anchor_every_records=1)
    async with client_for(make_app(config)) as client:
        started = time.monotonic()
        response = await choose(client, "accept_all")
        assert time.monotonic() - started < 1.5
        assert response.status_code == 303
        await tsa.wait_for(1)


async def test_a_failing_tsa_is_retried_and_the_token_kept(
    store: Store, tsa: TimestampAuthority
) -> None:
    tsa.statuses = [503, 500]
    config = make_config(store=store.url, anchor_tsa_url=tsa.url, anchor_every_records=1)
    async with client_for(make_app(config)) as client:
        assert (await choose(client, "accept_all")).status_code == 303
        [stamp] = await kept(store, 1)
    assert len(tsa.requests) == 3
    # A fresh nonce for each try.
    assert len({request["nonce"].native for request in tsa.requests}) == 3
    assert stamp.sequence == 1


@pytest.mark.parametrize(
    ("misbehaviour", "logged"),
    [
        ("refuse", "the TSA refused: rejection (policy not accepted; unaccepted_policy)"),
        ("wrong_nonce", "the reply answers another request"),
        ("wrong_imprint", "the token is for another head than record 1:"),
    ],
)
async def test_a_reply_that_does_not_count_is_logged_and_not_kept(
    tsa: TimestampAuthority,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    misbehaviour: str,
    logged: str,
) -> None:
    setattr(tsa, misbehaviour, True)
    store = f"sqlite:///{tmp_path / 'log.db'}"
    config = make_config(store=store, anchor_tsa_url=tsa.url, anchor_every_records=1)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client_for(make_app(config)) as client:
            assert (await choose(client, "accept_all")).status_code == 303
            await tsa.wait_for(5)
            for _ in range(300):
                if "timestamping" in caplog.text:
                    break
                await asyncio.sleep(0.01)
    assert f"timestamping the consent log's head at {tsa.url} failed after 5 tries" in caplog.text
    assert logged in caplog.text
    assert await run(["timestamps", "--store", store]) == 0
    assert await run(["verify", "--store", store]) == 0  # the record is there, no token


async def test_an_unreachable_tsa_is_logged_and_nothing_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    store = f"sqlite:///{tmp_path / 'log.db'}"
    url = f"http://127.0.0.1:{port}/tsa"
    config = make_config(store=store, anchor_tsa_url=url, anchor_every_records=1)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client_for(make_app(config)) as client:
            for _ in range(3):
                assert (await choose(client, "accept_all")).status_code == 303
            for _ in range(300):
                if "timestamping" in caplog.text:
                    break
                await asyncio.sleep(0.01)
    assert f"timestamping the consent log's head at {url} failed after 5 tries: Connect" in (
        caplog.text
    )
    capsys.readouterr()
    assert await run(["verify", "--store", store]) == 0
    assert "3 records verified" in capsys.readouterr().out


async def test_openssl_verifies_a_saved_token_against_the_documented_bytes(
    tsa: TimestampAuthority, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    store = f"sqlite:///{tmp_path / 'log.db'}"
    config = make_config(store=store, anchor_tsa_url=tsa.url, anchor_every_records=1)
    async with client_for(make_app(config)) as client:
        await choose(client, "accept_all")
        await tsa.wait_for(1)
        await asyncio.sleep(0.2)
    saved = tmp_path / "saved"
    assert await run(["timestamps", "--store", store, "--save", str(saved)]) == 0
    root = tmp_path / "root.pem"
    root.write_bytes(tsa.authority.root_pem())
    command = ["openssl", "ts", "-verify", "-token_in", "-in", str(saved / "1.tst")]
    command += ["-data", str(saved / "1.json"), "-CAfile", str(root)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert "Verification: OK" in done.stdout, done.stderr


# -- tampering ---------------------------------------------------------------------------


async def test_an_altered_token_is_a_broken_chain(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    stamp = await timestamped_log(store, Authority())
    token = bytearray(stamp.token)
    token[-5] ^= 0x01  # in the signature
    store.tamper("UPDATE head_timestamps SET token = ?", bytes(token))
    status, out = await verify(store, capsys)
    assert status == 1
    assert out.startswith("BROKEN at record 3: the timestamp token of record 3: ")


async def test_a_token_for_another_hash_is_a_broken_chain(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    authority = Authority()
    await timestamped_log(store, authority)
    other = authority.token(hashlib.sha256(head_json(3, "e" * 64)).digest(), 1)
    store.tamper("UPDATE head_timestamps SET token = ?", other.dump())
    status, out = await verify(store, capsys)
    assert status == 1
    assert "the timestamp token of record 3: the token is for another head" in out


async def test_a_head_rewritten_after_timestamping_is_a_broken_chain(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    stamp = await timestamped_log(store, Authority())
    # Someone with database access rewrites records 2 and 3 with fresh, valid links.
    row = store.query("SELECT hash FROM consent_records WHERE sequence = 1")[0]
    store.tamper("DELETE FROM consent_records WHERE sequence > 1")
    store.tamper("UPDATE consent_head SET sequence = 1, hash = ?", row[0])
    async with store.open() as log:
        for _ in range(2):
            await log.record(make_record(consent_id="forged"))
        report = await log.verify()  # on its own the chain holds
    assert report.ok, report.reason
    status, out = await verify(store, capsys)
    assert stamp.sequence == 3
    assert (status, out) == (
        1,
        "BROKEN at record 3: record 3 differs from the hash timestamped for it\n",
    )


async def test_a_tail_cut_with_its_head_is_caught_by_the_timestamp(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await timestamped_log(store, Authority())
    row = store.query("SELECT hash FROM consent_records WHERE sequence = 2")[0]
    store.tamper("DELETE FROM consent_records WHERE sequence = 3")
    store.tamper("UPDATE consent_head SET sequence = 2, hash = ?", row[0])
    status, out = await verify(store, capsys)
    assert status == 1
    assert "record 3 was timestamped, but it is missing: the log ends at record 2" in out


async def test_a_changed_time_or_an_untrusted_tsa_is_a_broken_chain(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stamp = await timestamped_log(store, Authority())
    other_root = tmp_path / "other.pem"
    other_root.write_bytes(Authority(name="Other TSA").root_pem())
    status, out = await verify(store, capsys, "--tsa-cert", str(other_root))
    assert status == 1
    assert "does not chain to a trusted certificate" in out
    earlier = stamp.time - timedelta(days=30)
    stored = format_time(earlier) if store.kind == "sqlite" else earlier
    store.tamper("UPDATE head_timestamps SET time = ?", stored)
    status, out = await verify(store, capsys)
    assert status == 1 and "its token" in out, out


async def test_a_malformed_token_is_a_broken_chain_not_a_read_failure(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await timestamped_log(store, Authority())
    store.tamper("UPDATE head_timestamps SET token = ?", b"\x30\x03\x02\x01\x01")
    status, out = await verify(store, capsys)
    assert status == 1 and "the timestamp token of record 3: the token is " in out, out


async def test_a_token_from_an_rsa_tsa_verifies(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    authority = Authority(rsa_key=True)
    await timestamped_log(store, authority)
    root = tmp_path / "root.pem"
    root.write_bytes(authority.root_pem())
    status, out = await verify(store, capsys, "--tsa-cert", str(root))
    assert status == 0, out


async def test_a_token_of_a_pruned_record_is_still_checked_on_its_own(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await timestamped_log(store, Authority())
    async with store.open() as log:
        for _ in range(2):
            await log.record(make_record())
        assert await log.prune(datetime.now(UTC) + timedelta(minutes=1)) == 5
    status, out = await verify(store, capsys)
    assert status == 0 and "; 1 timestamp checked, the newest" in out, out
    store.tamper("UPDATE head_timestamps SET hash = ?", "e" * 64)
    status, out = await verify(store, capsys)
    assert status == 1 and "the token is for another head" in out, out


# -- configuration -----------------------------------------------------------------------


def test_the_tsa_url_comes_from_toml_and_must_be_a_web_url(tmp_path: Path) -> None:
    config = ConsentConfig.from_mapping(
        {
            "secret_key": "s" * 40,
            "policy_version": "1",
            "anchor_tsa_url": "https://tsa.example.com/tsr",
        }
    )
    assert config.anchor_tsa_url == "https://tsa.example.com/tsr"
    with pytest.raises(ConfigurationError) as caught:
        make_config(anchor_tsa_url="tsa.example.com")
    assert caught.value.field == "anchor_tsa_url"


@pytest.mark.parametrize("missing", ["asn1crypto", "cryptography", "httpx"])
def test_timestamping_without_the_extra_names_it(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(ConfigurationError) as caught:
        make_config(anchor_tsa_url="https://tsa.example.com/tsr")
    assert caught.value.field == "anchor_tsa_url"
    assert "pip install consentgate[tsa]" in str(caught.value)


def test_a_store_that_cannot_keep_timestamps_fails_at_start_up() -> None:
    config = make_config(store=ListLog(), anchor_tsa_url="https://tsa.example.com/tsr")
    with pytest.raises(ConfigurationError) as caught:
        make_app(config).build_middleware_stack()
    assert caught.value.field == "anchor_tsa_url"
    assert "ListLog cannot keep timestamps" in str(caught.value)


async def test_verify_without_the_extra_names_it(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await timestamped_log(store, Authority())
    monkeypatch.delitem(sys.modules, "consentgate._tsa", raising=False)
    monkeypatch.delattr(consentgate, "_tsa", raising=False)
    monkeypatch.setitem(sys.modules, "asn1crypto", None)
    capsys.readouterr()
    status = await run(["verify", "--store", store.url])
    assert status == 2
    assert "pip install consentgate[tsa]" in capsys.readouterr().err


def test_the_middleware_imports_no_crypto_unless_timestamping() -> None:
    script = textwrap.dedent(
        """
        import sys
        from tests.helpers import make_app, make_config
        make_app(make_config(anchor_url="https://hooks.example.com/heads"))
        print(sorted({"asn1crypto", "cryptography"} & {m.split(".")[0] for m in sys.modules}))
        """
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    assert done.stdout.strip() == "[]"
