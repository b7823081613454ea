"""The hash chain on its own: canonical encoding, hashes, and verify_chain over plain lists."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from consentgate.log import (
    ChainLink,
    Checkpoint,
    ConsentRecord,
    Tombstone,
    UnreadableRecord,
    record_hash,
    verify_chain,
)
from consentgate.log._chain import (
    GENESIS_HASH,
    canonical_json,
    consent_id_digest,
    content_digest,
    encoding_version,
    format_time,
    link_hash,
)
from tests.helpers import make_record

CONTENT = (
    '{"action":"grant","consent_id":"ø-1","granted":["analytics","marketing"],'
    '"ip":"2001:db8:abcd::","language":"de","policy_version":"2024-05",'
    '"refused":["personalisation"],"source":"banner","text_fingerprint":"' + "ab" * 32 + '",'
    '"time":"2024-05-01T12:30:15.123456Z","user_agent":"Mozilla/5.0"}'
)


def sha256(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def chain(n: int, start: int = 1, prev_hash: str = GENESIS_HASH) -> list[ConsentRecord]:
    """``n`` correctly chained records, as a log would store them."""
    records = []
    for sequence in range(start, start + n):
        record = make_record(
            consent_id=f"v{sequence % 3}",
            time=datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=sequence),
            sequence=sequence,
            prev_hash=prev_hash,
        )
        prev_hash = record_hash(record)
        records.append(dataclasses.replace(record, hash=prev_hash))
    return records


def tombstone_of(record: ConsentRecord) -> Tombstone:
    assert record.sequence is not None and record.prev_hash and record.hash
    return Tombstone(
        sequence=record.sequence,
        prev_hash=record.prev_hash,
        hash=record.hash,
        consent_id_digest=consent_id_digest(record.consent_id),
        content_digest=content_digest(record),
        version=encoding_version(record),
    )


def append_erase(links: list[ChainLink], consent_id: str) -> None:
    last = links[-1]
    assert isinstance(last, ConsentRecord | Tombstone)
    assert last.sequence is not None and last.hash is not None
    erase = make_record(
        consent_id=consent_id,
        action="erase",
        granted=(),
        refused=(),
        sequence=last.sequence + 1,
        prev_hash=last.hash,
    )
    links.append(dataclasses.replace(erase, hash=record_hash(erase)))


def checkpoint_before(record: ConsentRecord, deleted: int) -> Checkpoint:
    assert record.sequence is not None and record.prev_hash is not None
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return Checkpoint(
        sequence=record.sequence - 1, hash=record.prev_hash, deleted=deleted, time=now, before=now
    )


# -- the encoding -------------------------------------------------------------------------


def test_canonical_encoding_version_1_is_pinned() -> None:
    record = make_record(
        consent_id="ø-1",
        sequence=1,
        prev_hash=GENESIS_HASH,
        user_agent="Mozilla/5.0",
        ip="2001:db8:abcd::",
    )
    assert content_digest(record) == sha256(CONTENT)
    assert consent_id_digest("ø-1") == sha256("ø-1")
    link = (
        f'{{"consent_id_digest":"{sha256("ø-1")}","content_digest":"{sha256(CONTENT)}",'
        f'"prev_hash":"{GENESIS_HASH}","sequence":1,"v":1}}'
    )
    assert record_hash(record) == sha256(link)
    # A golden value: if this changes, every stored log stops verifying.
    assert record_hash(record) == "dd95b7afd876eead3d06ca181a3ac732c0ee9d0584c75d703f335f798d11a4eb"


def test_keyed_links_hmac_the_same_link_in_the_same_version() -> None:
    from consentgate.log._chain import head_mac

    key = b"chain-key-that-is-long-enough-0123456789"
    record = make_record(
        consent_id="ø-1",
        sequence=1,
        prev_hash=GENESIS_HASH,
        user_agent="Mozilla/5.0",
        ip="2001:db8:abcd::",
    )
    link = (
        f'{{"consent_id_digest":"{sha256("ø-1")}","content_digest":"{sha256(CONTENT)}",'
        f'"prev_hash":"{GENESIS_HASH}","sequence":1,"v":1}}'
    )
    keyed = hmac.new(key, link.encode(), hashlib.sha256).hexdigest()
    assert record_hash(record, key) == keyed
    assert record_hash(record, key) != record_hash(record)
    head = f'{{"hash":"{keyed}","sequence":1}}'
    assert head_mac(key, 1, keyed) == hmac.new(key, head.encode(), hashlib.sha256).hexdigest()


def test_canonical_encoding_version_2_adds_providers_and_nothing_else() -> None:
    record = make_record(
        consent_id="ø-1",
        sequence=1,
        prev_hash=GENESIS_HASH,
        user_agent="Mozilla/5.0",
        ip="2001:db8:abcd::",
        providers=("youtube", "google-maps"),
    )
    content = CONTENT.replace(
        '"policy_version":"2024-05",',
        '"policy_version":"2024-05","providers":["google-maps","youtube"],',
    )
    assert encoding_version(record) == 2
    assert content_digest(record) == sha256(content)
    link = (
        f'{{"consent_id_digest":"{sha256("ø-1")}","content_digest":"{sha256(content)}",'
        f'"prev_hash":"{GENESIS_HASH}","sequence":1,"v":2}}'
    )
    assert record_hash(record) == sha256(link)
    # A golden value: if this changes, every stored log with providers stops verifying.
    assert record_hash(record) == "01b8f9bbcd2c686567a660feaba7a3cfa673e04eac66754426b699477cd4f122"
    # Without providers, the same record is version 1, byte for byte as ever.
    plain = dataclasses.replace(record, providers=())
    assert encoding_version(plain) == 1
    assert content_digest(plain) == sha256(CONTENT)
    # Keyed, the same link in the same version, HMACed.
    key = b"chain-key-that-is-long-enough-0123456789"
    assert record_hash(record, key) == hmac.new(key, link.encode(), hashlib.sha256).hexdigest()


def test_canonical_encoding_version_3_adds_gpc_and_nothing_else() -> None:
    record = make_record(
        consent_id="ø-1",
        sequence=1,
        prev_hash=GENESIS_HASH,
        user_agent="Mozilla/5.0",
        ip="2001:db8:abcd::",
        gpc=True,
    )
    content = CONTENT.replace('"consent_id":"ø-1",', '"consent_id":"ø-1","gpc":true,')
    assert encoding_version(record) == 3
    assert content_digest(record) == sha256(content)
    link = (
        f'{{"consent_id_digest":"{sha256("ø-1")}","content_digest":"{sha256(content)}",'
        f'"prev_hash":"{GENESIS_HASH}","sequence":1,"v":3}}'
    )
    assert record_hash(record) == sha256(link)
    # A golden value: if this changes, every stored log with GPC stops verifying.
    assert record_hash(record) == "fcd1eb9ecd99f2929fd4f884a85526882ad3457ed4ee949574c58e00554be85b"
    # With providers too, still version 3: both keys.
    both = dataclasses.replace(record, providers=("youtube",))
    assert encoding_version(both) == 3
    assert content_digest(both) == sha256(
        content.replace(
            '"policy_version":"2024-05",', '"policy_version":"2024-05","providers":["youtube"],'
        )
    )
    # Without GPC, the record is version 1, byte for byte as ever.
    assert content_digest(dataclasses.replace(record, gpc=False)) == sha256(CONTENT)


def test_turning_gpc_on_or_off_breaks_the_hash() -> None:
    records = chain(3)
    flipped = dataclasses.replace(records[1], gpc=True)
    report = verify_chain([records[0], flipped, records[2]])
    assert (report.ok, report.first_broken_sequence) == (False, 2)
    with_gpc = dataclasses.replace(records[1], gpc=True)
    with_gpc = dataclasses.replace(with_gpc, hash=record_hash(with_gpc))
    third = dataclasses.replace(records[2], prev_hash=with_gpc.hash)
    third = dataclasses.replace(third, hash=record_hash(third))
    assert verify_chain([records[0], with_gpc, third]).ok
    report = verify_chain([records[0], dataclasses.replace(with_gpc, gpc=False), third])
    assert (report.ok, report.first_broken_sequence) == (False, 2)


def test_adding_or_removing_providers_breaks_the_hash() -> None:
    """The version follows from the content, so neither edit can keep the old hash."""
    records = chain(3)
    with_providers = dataclasses.replace(records[1], providers=("youtube",))
    assert not verify_chain([records[0], with_providers, records[2]]).ok
    v2 = dataclasses.replace(records[1], providers=("youtube",))
    v2 = dataclasses.replace(v2, hash=record_hash(v2))
    third = dataclasses.replace(records[2], prev_hash=v2.hash)
    third = dataclasses.replace(third, hash=record_hash(third))
    assert verify_chain([records[0], v2, third]).ok
    stripped = dataclasses.replace(v2, providers=())
    report = verify_chain([records[0], stripped, third])
    assert (report.ok, report.first_broken_sequence) == (False, 2)


def test_a_tombstone_keeps_the_version_of_the_record_it_replaced() -> None:
    records = chain(3)
    v2 = dataclasses.replace(records[1], providers=("youtube",))
    v2 = dataclasses.replace(v2, hash=record_hash(v2))
    third = dataclasses.replace(records[2], prev_hash=v2.hash)
    third = dataclasses.replace(third, hash=record_hash(third))
    links: list[ChainLink] = [records[0], tombstone_of(v2), third]
    append_erase(links, v2.consent_id)
    assert verify_chain(links).ok
    links[1] = dataclasses.replace(tombstone_of(v2), version=1)
    report = verify_chain(links)
    assert (report.ok, report.first_broken_sequence) == (False, 2)


def test_nulls_and_control_characters_are_encoded_canonically() -> None:
    record = make_record(policy_version='a"\\\n\x01\u2028', sequence=7, prev_hash=GENESIS_HASH)
    expected = CONTENT.replace('"ip":"2001:db8:abcd::"', '"ip":null')
    expected = expected.replace('"user_agent":"Mozilla/5.0"', '"user_agent":null')
    expected = expected.replace('"consent_id":"ø-1"', '"consent_id":"visitor-1"')
    expected = expected.replace('"2024-05"', '"a\\"\\\\\\n\\u0001\u2028"')
    assert content_digest(record) == sha256(expected)


def test_equal_choices_hash_equally_whatever_the_input_order_or_zone() -> None:
    a = make_record(granted=("b", "a"), sequence=1, prev_hash=GENESIS_HASH)
    b = make_record(
        granted=("a", "b"),
        time=make_record().time.astimezone(datetime.now().astimezone().tzinfo),
        sequence=1,
        prev_hash=GENESIS_HASH,
    )
    assert record_hash(a) == record_hash(b)


@pytest.mark.parametrize(
    "change",
    [
        {"consent_id": "visitor-2"},
        {"time": make_record().time + timedelta(microseconds=1)},
        {"action": "update"},
        {"granted": ("analytics",)},
        {"refused": ()},
        {"policy_version": "2024-06"},
        {"language": "da"},
        {"source": "gpc"},
        {"text_fingerprint": "cd" * 32},
        {"user_agent": "x"},
        {"ip": "192.0.2.0"},
        {"providers": ("youtube",)},
        {"sequence": 2},
        {"prev_hash": "1" * 64},
    ],
)
def test_every_field_but_hash_is_covered(change: dict[str, object]) -> None:
    record = make_record(sequence=1, prev_hash=GENESIS_HASH)
    assert record_hash(dataclasses.replace(record, **change)) != record_hash(record)  # type: ignore[arg-type]
    assert record_hash(dataclasses.replace(record, hash="f" * 64)) == record_hash(record)


def test_an_unstored_record_has_no_hash() -> None:
    with pytest.raises(ValueError, match="sequence"):
        record_hash(make_record())


# -- verify_chain -------------------------------------------------------------------------


def test_intact_chain_verifies() -> None:
    records = chain(5)
    report = verify_chain(records)
    assert report.ok
    assert report.checked == 5
    assert report.first_broken_sequence is None
    assert (report.last_sequence, report.last_hash) == (5, records[-1].hash)
    assert "from genesis" in report.reason


def test_empty_chain_verifies() -> None:
    report = verify_chain([])
    assert report.ok and report.checked == 0 and report.last_sequence is None


def test_edited_record_is_reported() -> None:
    records = chain(5)
    records[2] = dataclasses.replace(records[2], granted=("analytics", "marketing", "x"))
    report = verify_chain(records)
    assert not report.ok
    assert report.first_broken_sequence == 3
    assert "altered" in report.reason
    assert report.checked == 2


def test_deleted_record_is_reported() -> None:
    records = chain(5)
    del records[2]
    report = verify_chain(records)
    assert (report.ok, report.first_broken_sequence) == (False, 4)
    assert "records 3 to 3 are missing" in report.reason


def test_deleted_first_record_is_reported() -> None:
    report = verify_chain(chain(3)[1:])
    assert (report.ok, report.first_broken_sequence) == (False, 2)
    assert "genesis" in report.reason


def test_reordered_records_are_reported() -> None:
    records = chain(5)
    records[1], records[2] = records[2], records[1]
    report = verify_chain(records)
    assert (report.ok, report.first_broken_sequence) == (False, 3)


def test_records_swapped_with_their_sequences_are_reported() -> None:
    # What swapping two rows' sequence numbers in a table looks like when read back.
    records = chain(5)
    second, third = records[1], records[2]
    records[1] = dataclasses.replace(third, sequence=2)
    records[2] = dataclasses.replace(second, sequence=3)
    report = verify_chain(records)
    assert (report.ok, report.first_broken_sequence) == (False, 2)


def test_edited_hash_is_reported() -> None:
    records = chain(5)
    records[4] = dataclasses.replace(records[4], hash="e" * 64)
    report = verify_chain(records)
    assert (report.ok, report.first_broken_sequence) == (False, 5)


def test_rechained_record_is_reported() -> None:
    # Deleting record 3 and pointing 4 at 2 changes 4's own hash.
    records = chain(5)
    records[3] = dataclasses.replace(records[3], prev_hash=records[1].hash)
    del records[2]
    report = verify_chain(records)
    assert (report.ok, report.first_broken_sequence) == (False, 4)
    assert "altered" in report.reason


def test_unstored_and_unreadable_links_are_reported() -> None:
    report = verify_chain([make_record()])
    assert (report.ok, report.first_broken_sequence) == (False, None)
    assert "never stored" in report.reason
    records: list[ChainLink] = [*chain(2), UnreadableRecord(sequence=3, reason="bad time")]
    report = verify_chain(records)
    assert (report.ok, report.first_broken_sequence) == (False, 3)
    assert "bad time" in report.reason


def test_gap_with_an_intact_link_is_accepted() -> None:
    # Only a log upgraded from schema 1 has such gaps: rows deleted before there was a chain.
    records = chain(2) + chain(2, start=5, prev_hash=chain(2)[-1].hash or "")
    assert verify_chain(records).ok


def test_erased_records_verify_when_an_erase_record_follows() -> None:
    records = chain(6)
    links: list[ChainLink] = [tombstone_of(r) if r.consent_id == "v1" else r for r in records]
    append_erase(links, "v1")
    report = verify_chain(links)
    assert report.ok, report.reason
    assert (report.checked, report.erased) == (7, 2)


def test_erasure_without_erase_record_is_reported() -> None:
    links: list[ChainLink] = list(chain(6))
    links[3] = tombstone_of(chain(6)[3])
    report = verify_chain(links)
    assert (report.ok, report.first_broken_sequence) == (False, 4)
    assert "no erase record" in report.reason
    append_erase(links, "v2")  # someone else's erasure does not account for it
    assert not verify_chain(links).ok


def test_altered_tombstone_is_reported() -> None:
    records = chain(4)
    links: list[ChainLink] = list(records)
    links[1] = dataclasses.replace(tombstone_of(records[1]), content_digest="0" * 64)
    append_erase(links, records[1].consent_id)
    report = verify_chain(links)
    assert (report.ok, report.first_broken_sequence) == (False, 2)
    assert "erased record 2 was altered" in report.reason


def test_checkpoint_starts_the_chain() -> None:
    records = chain(6)
    links: list[ChainLink] = [checkpoint_before(records[3], deleted=3), *records[3:]]
    report = verify_chain(links)
    assert report.ok, report.reason
    assert report.checked == 3
    assert "checkpoint after record 3" in report.reason


def test_checkpoint_with_everything_pruned() -> None:
    records = chain(3)
    report = verify_chain([checkpoint_before(records[2], deleted=2)])
    assert report.ok and report.checked == 0
    assert (report.last_sequence, report.last_hash) == (2, records[2].prev_hash)


def test_rows_left_before_a_checkpoint_are_reported() -> None:
    records = chain(6)
    links: list[ChainLink] = [checkpoint_before(records[3], deleted=3), records[2], *records[3:]]
    report = verify_chain(links)
    assert (report.ok, report.first_broken_sequence) == (False, 3)
    assert "out of order" in report.reason


def test_wrong_checkpoint_hash_is_reported() -> None:
    records = chain(6)
    forged = dataclasses.replace(checkpoint_before(records[3], deleted=3), hash="9" * 64)
    report = verify_chain([forged, *records[3:]])
    assert (report.ok, report.first_broken_sequence) == (False, 4)


def test_checkpoint_ahead_of_the_walk_continues_it() -> None:
    # A prune that overtook a walk: the walk saw 1-2, then rows up to 4 were deleted.
    records = chain(6)
    links: list[ChainLink] = [*records[:2], checkpoint_before(records[4], deleted=4), *records[4:]]
    assert verify_chain(links).ok


def test_checkpoint_behind_the_walk_is_reported() -> None:
    records = chain(6)
    links: list[ChainLink] = [*records[:4], checkpoint_before(records[2], deleted=2)]
    report = verify_chain(links)
    assert (report.ok, report.first_broken_sequence) == (False, 2)
    assert "contradicts" in report.reason


def test_pruned_tombstones_need_no_erase_record() -> None:
    records = chain(6)
    links: list[ChainLink] = [tombstone_of(records[0]), records[1]]
    links += [checkpoint_before(records[3], deleted=3), *records[3:]]
    assert verify_chain(links).ok


def test_verify_chain_is_lazy() -> None:
    records = chain(4)
    records[1] = dataclasses.replace(records[1], language="xx")
    consumed = []

    def links() -> Iterator[ConsentRecord]:
        for record in records:
            consumed.append(record.sequence)
            yield record

    assert not verify_chain(links()).ok
    assert consumed == [1, 2]


def test_link_hash_matches_record_hash() -> None:
    record = chain(1)[0]
    assert record.sequence is not None and record.prev_hash is not None
    assert record.hash == link_hash(
        sequence=record.sequence,
        prev_hash=record.prev_hash,
        consent_id_digest=consent_id_digest(record.consent_id),
        content_digest=content_digest(record),
    )


# -- the written-out encoding equals the general one --------------------------------------

_text = st.text(max_size=12).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t))


@settings(max_examples=300)
@given(
    fields=st.fixed_dictionaries(
        {
            "consent_id": _text,
            "granted": st.lists(_text, max_size=3, unique=True),
            "refused": st.lists(_text, max_size=3, unique=True),
            "providers": st.lists(_text, max_size=3, unique=True),
            "policy_version": _text,
            "language": _text,
            "text_fingerprint": _text,
            "user_agent": st.none() | _text,
            "ip": st.none() | _text,
            "gpc": st.booleans(),
        }
    ),
    microseconds=st.integers(0, 10**12),
    sequence=st.integers(0, 2**62),
    prev_hash=_text,
)
def test_written_out_encoding_equals_canonical_json(
    fields: dict[str, Any], microseconds: int, sequence: int, prev_hash: str
) -> None:
    granted = tuple(fields.pop("granted"))
    refused = tuple(c for c in fields.pop("refused") if c not in granted)
    providers = tuple(fields.pop("providers"))
    record = make_record(
        **fields,
        granted=granted,
        refused=refused,
        providers=providers,
        time=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(microseconds=microseconds),
    )
    general: dict[str, Any] = {
        "action": record.action,
        "consent_id": record.consent_id,
        "granted": list(record.granted),
        "ip": record.ip,
        "language": record.language,
        "policy_version": record.policy_version,
        "refused": list(record.refused),
        "source": record.source,
        "text_fingerprint": record.text_fingerprint,
        "time": format_time(record.time),
        "user_agent": record.user_agent,
    }
    if record.providers:  # version 2
        general["providers"] = list(record.providers)
    if record.gpc:  # version 3
        general["gpc"] = True
    digest = hashlib.sha256(canonical_json(general)).hexdigest()
    assert content_digest(record) == digest
    version = 3 if record.gpc else 2 if record.providers else 1
    assert encoding_version(record) == version
    link = {
        "consent_id_digest": consent_id_digest(record.consent_id),
        "content_digest": digest,
        "prev_hash": prev_hash,
        "sequence": sequence,
        "v": version,
    }
    assert (
        link_hash(
            sequence=sequence,
            prev_hash=prev_hash,
            consent_id_digest=consent_id_digest(record.consent_id),
            content_digest=digest,
            version=version,
        )
        == hashlib.sha256(canonical_json(link)).hexdigest()
    )


@given(
    moment=st.datetimes(timezones=st.timezones()),
)
def test_format_time_is_iso_8601_utc_with_six_fractional_digits(moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    expected = utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert format_time(moment) == expected
    assert format_time(utc) == expected  # the quick way, for times already in UTC


@pytest.mark.parametrize("sequence", [True, 1.0, "1"])
def test_a_tampered_sequence_type_hashes_like_json_writes_it(sequence: Any) -> None:
    link = {"consent_id_digest": "c", "content_digest": "d", "prev_hash": "p", "sequence": sequence}
    expected = hashlib.sha256(canonical_json({**link, "v": 1})).hexdigest()
    assert link_hash(**link) == expected
    assert link_hash(**{**link, "sequence": 1}) != expected
