"""Memo: bounded in entries and in bytes, whatever the callers pass."""

from __future__ import annotations

import threading

from consentgate._cache import ENTRY_OVERHEAD, Memo


def counting(func_calls: list[tuple[object, ...]]) -> Memo[str]:
    def func(*args: object) -> str:
        func_calls.append(args)
        return "v"

    return Memo(func, max_entries=4, max_bytes=10_000, max_key_bytes=100)


def test_a_repeated_call_is_answered_from_memory() -> None:
    calls: list[tuple[object, ...]] = []
    memo = counting(calls)
    assert memo("a", b"b") == memo("a", b"b") == "v"
    assert calls == [("a", b"b")]


def test_the_least_recently_used_entry_goes_first() -> None:
    calls: list[tuple[object, ...]] = []
    memo = counting(calls)
    for key in "abcd":
        memo(key)
    memo("a")  # now the most recent
    memo("e")  # evicts b
    calls.clear()
    memo("a")
    memo("b")
    assert calls == [("b",)]
    assert len(memo) == 4


def test_a_key_over_the_limit_is_answered_but_never_kept() -> None:
    calls: list[tuple[object, ...]] = []
    memo = counting(calls)
    big = "x" * 101
    assert memo(big) == memo(big) == "v"
    assert calls == [(big,), (big,)]
    assert len(memo) == 0 and memo.bytes == 0


def test_the_bytes_held_never_pass_the_bound() -> None:
    memo = Memo(
        lambda key: key * 3,
        max_entries=10_000,
        max_bytes=40_000,
        max_key_bytes=1_000,
        value_bytes=len,
    )
    for i in range(5_000):
        memo(f"{i:0>600}")
        assert memo.bytes <= 40_000
    assert 0 < len(memo) <= 40_000 // (4 * 600 + ENTRY_OVERHEAD)


def test_one_entry_too_large_for_its_share_is_not_kept() -> None:
    memo = Memo(
        lambda key: "v" * 5_000, max_entries=10, max_bytes=8_000, max_key_bytes=100, value_bytes=len
    )
    memo("small")
    assert len(memo) == 0


def test_threads_sharing_a_memo_keep_it_bounded_and_answer_right() -> None:
    """Apps may read consent from a thread pool while the event loop reads it too."""
    memo = Memo(str.upper, max_entries=50, max_bytes=50_000, max_key_bytes=100, value_bytes=len)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(3_000):
                key = f"k{(seed * 7919 + i) % 120}"
                assert memo(key) == key.upper()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(memo) <= 50 + 8  # a hit in flight may put back what an eviction just passed
    assert memo.bytes <= 50_000
