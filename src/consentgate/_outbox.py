"""The outbox: refusals and withdrawals the log could not take yet, kept until it can.

A visitor who refuses or withdraws while the consent log is down gets their way
at once (withdrawing must be as easy as giving), but the site owner still needs
the proof. Before the visitor is answered, the record is appended to a local
file and fsync'd (and its directory, when the file is new); once the log answers
again, the file is replayed into it in order and emptied.

Exactly once: a replay that crashes after writing to the log but before
emptying the file writes nothing twice, because a record already in the log's
``history`` of its visitor (equal in every field but its place in the chain) is
skipped. Several processes may share one file: appends and replays take an
exclusive ``flock`` on it, so two replays never overlap. The file must be on a
local disk (``flock`` is not reliable over NFS).

Without a file (an in-memory SQLite log, a log object of the site's own, or
PostgreSQL with ``outbox`` unset) the same happens in memory: a refusal made
during an outage is replayed when the log is back, but lost if the process dies
first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import stat
import sys
from collections.abc import Awaitable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from ._exceptions import StorageError
from .log import ConsentLog, ConsentRecord

if sys.platform != "win32":
    import fcntl

__all__ = ["Outbox"]

logger = logging.getLogger(__name__)

#: The first wait before a failed replay is tried again in the background, and the longest.
RETRY_FIRST = 0.5
RETRY_MAX = 30.0
_DATETIME = "$datetime"
#: How many records a replay hands to the log at once.
WAVE = 64
_T = TypeVar("_T")


class Outbox:
    """Records the log could not take, in order, until :meth:`replay` has written them.

    ``path`` is the outbox file; ``None`` keeps pending records in memory only.
    """

    def __init__(
        self,
        log: ConsentLog,
        path: Path | None,
        *,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
    ) -> None:
        if path is not None and sys.platform == "win32":
            logger.warning(
                "the outbox file needs POSIX file locks; on Windows a refusal "
                "made while the log is down is kept in memory only"
            )
            path = None
        self.log = log
        self.path = path
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._memory: list[ConsentRecord] = []
        self._lock = asyncio.Lock()
        #: Replays finished (either way), and the error of the last if it failed: a
        #: caller that waited for a failing replay fails with it instead of trying again.
        self._finished = 0
        self._last_error: StorageError | None = None
        self._checked_at_start = False
        #: The background retry running now, if any (kept so it is not garbage-collected).
        self.task: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        """Where pending records are kept, for messages."""
        return str(self.path) if self.path is not None else "memory"

    # -- adding ---------------------------------------------------------

    async def add(self, record: ConsentRecord) -> None:
        """Keep ``record`` durably until it is replayed; raises OSError if it cannot.

        Returns only after the record is on disk (fsync'd), so the visitor may be
        answered. A replay is then tried in the background until the log takes it.
        """
        if self.path is None:
            self._memory.append(record)
        else:
            await asyncio.to_thread(_append, self.path, encode(record))
        self._retry_in_background()

    # -- replaying ------------------------------------------------------

    def pending(self) -> bool:
        """Whether records may be waiting (a stat of the file, which another process may fill)."""
        if self.path is None:
            return bool(self._memory)
        try:
            status = self.path.stat()
        except OSError:
            return False  # no file (or none that could be): nothing waits
        return stat.S_ISREG(status.st_mode) and status.st_size > 0

    async def replay(self) -> int:
        """Write every pending record into the log, oldest first; returns how many were written.

        Raises StorageError, leaving the rest pending, when the log fails. An
        outbox file that cannot be read is logged and left for a later replay: it
        must not stop the log from taking new choices. Safe to call at any time
        and from several processes at once; a lifespan start-up hook may call it
        to replay what a killed process left behind.
        """
        started = self._finished
        async with self._lock:
            if self._finished != started and self._last_error is not None:
                raise self._last_error  # the replay we waited for just failed: so would we
            try:
                written = await self._replay_locked()
            except StorageError as exc:
                self._last_error = exc
                raise
            except OSError as exc:
                logger.error("the outbox (%s) cannot be replayed: %s", self.where, exc)
                written = 0
            else:
                self._last_error = None
            finally:
                self._finished += 1
        if written:
            logger.info("%d choices recorded from the outbox %s", written, self.where)
        return written

    def poke(self) -> None:
        """On the first request of a process, replay in the background what an earlier one left."""
        if self._checked_at_start:
            return
        self._checked_at_start = True
        if self.pending():
            self._retry_in_background(delay=0.0)

    async def aclose(self) -> None:
        """Stop the background retry (at shutdown); what is pending stays in the file."""
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _replay_locked(self) -> int:
        if self.path is None:
            records = list(self._memory)
            written = await self._write_all(records)
            del self._memory[: len(records)]
            return written
        if not self.pending():
            return 0
        fd = await asyncio.to_thread(_open_locked, self.path)
        try:
            records, unreadable = await asyncio.to_thread(_read, fd)
            written = await self._write_all(records)
            await asyncio.to_thread(_empty, fd, self.path, unreadable)
        finally:
            os.close(fd)  # and with it the flock
        return written

    async def _write_all(self, records: list[ConsentRecord]) -> int:
        """Write ``records`` in order, a wave of different visitors' records at a time.

        A wave is handed to the log together, so a long outbox rides the log's group
        commit instead of waiting for one commit per record; a visitor's second
        record waits for the next wave, so each visitor's records keep their order.
        Every write of a wave is waited for, even after one fails, so that none is
        still under way when the lock is released.
        """
        written = 0
        start = 0
        while start < len(records):
            wave = _wave(records, start)
            start += len(wave)
            known = await _settle(self._in_log(record) for record in wave)
            missing = [record for record, logged in zip(wave, known, strict=True) if not logged]
            await _settle(self.log.record(record) for record in missing)
            written += len(missing)
        return written

    async def _in_log(self, record: ConsentRecord) -> bool:
        """Whether the log already holds ``record``: a replay that died before emptying the file."""
        for stored in await self.log.history(record.consent_id):
            unplaced = dataclasses.replace(stored, sequence=None, prev_hash=None, hash=None)
            if unplaced == record:
                return True
        return False

    def _retry_in_background(self, delay: float | None = None) -> None:
        if self.task is not None and not self.task.done():
            return
        first = self.retry_first if delay is None else delay
        self.task = asyncio.get_running_loop().create_task(self._retry(first))

    async def _retry(self, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            try:
                written = await self.replay()
            except StorageError as exc:
                delay = self._longer(delay)
                logger.warning(
                    "the outbox (%s) could not be replayed yet, retrying in %gs: %s",
                    self.where,
                    delay,
                    exc,
                )
                continue
            except Exception:
                # Nobody awaits this task: an unexpected error is reported here or nowhere.
                logger.exception("replaying the outbox (%s) failed", self.where)
                return
            if not self.pending():
                return
            # More came meanwhile: soon again. Nothing went (an unreadable file): later.
            delay = self.retry_first if written else self._longer(delay)

    def _longer(self, delay: float) -> float:
        return min(max(delay * 2, self.retry_first), self.retry_max)


def _wave(records: list[ConsentRecord], start: int) -> list[ConsentRecord]:
    """The records from ``start`` on, up to the first visitor seen twice (at most WAVE)."""
    wave: list[ConsentRecord] = []
    seen: set[str] = set()
    for record in records[start : start + WAVE]:
        if record.consent_id in seen:
            break
        seen.add(record.consent_id)
        wave.append(record)
    return wave


async def _settle(calls: Iterable[Awaitable[_T]]) -> list[_T]:
    """Await every call, concurrently; then raise the first failure, if any."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast(list[_T], outcomes)


# -- the record as one line of JSON -------------------------------------------


def encode(record: ConsentRecord) -> str:
    """One line of JSON holding every field of ``record``, whatever fields it has."""
    fields = {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return json.dumps({"record": fields}, separators=(",", ":"), ensure_ascii=True)


def decode(line: str) -> ConsentRecord:
    """The record :func:`encode` wrote; raises ValueError, TypeError or AttributeError else."""
    entry = json.loads(line)
    if not isinstance(entry, dict) or not isinstance(entry.get("record"), dict):
        raise ValueError("not an outbox entry")
    return ConsentRecord(**{name: _typed(value) for name, value in entry["record"].items()})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_typed(v) for v in value)
    if isinstance(value, dict):
        if set(value) == {_DATETIME}:
            return datetime.fromisoformat(value[_DATETIME])
        return {k: _typed(v) for k, v in value.items()}
    return value


# -- the file (run in a worker thread) -----------------------------------------


def _open_locked(path: Path) -> int:
    """The outbox file, created if missing (and its directory fsync'd), exclusively locked."""
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if created:
            _fsync_directory(path.parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _append(path: Path, line: str) -> None:
    fd = _open_locked(path)
    try:
        data = line.encode("ascii") + b"\n"
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A line torn by a crash mid-append (never answered): end it, so this
            # record stays a line of its own.
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(fd: int) -> tuple[list[ConsentRecord], list[bytes]]:
    """The records of the complete lines, in order, and complete lines that hold none."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: empty, or a crash's partial append
    if torn:
        logger.warning(
            "dropping a partial outbox line (a crash while it was written, "
            "before the visitor was answered)"
        )
    records: list[ConsentRecord] = []
    unreadable: list[bytes] = []
    for line in lines:
        if not line:
            continue
        try:
            records.append(decode(line.decode("ascii")))
        except (ValueError, TypeError, AttributeError):
            unreadable.append(line)
    return records, unreadable


def _empty(fd: int, path: Path, unreadable: list[bytes]) -> None:
    """Empty the replayed file; lines it could not read are set aside, never dropped."""
    if unreadable:
        aside = path.with_name(path.name + ".unreadable")
        logger.error(
            "%d outbox lines are no consent record this version can read; kept in %s",
            len(unreadable),
            aside,
        )
        with aside.open("ab") as file:
            file.write(b"".join(line + b"\n" for line in unreadable))
            file.flush()
            os.fsync(file.fileno())
    os.ftruncate(fd, 0)
    os.fsync(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
