"""The ``consentgate`` command: migrate, verify, export, prune a consent log and show its
head and timestamps, show or erase one visitor's record, and scan a running site
(``_scan_command``).

Every subcommand takes the store from ``--store URL`` or from the ``store``
setting of ``--config consentgate.toml`` (the site's own config file). The
command needs nothing else from that file, so it does not ask for the signing
secret either. A keyed chain's key comes from the environment
(``CONSENTGATE_CHAIN_KEY``), a file (``--chain-key-file``) or the config file,
never from the command line, where other users of the machine could read it.
Exit status: 0 done, 1 ``verify`` found a broken link (or ``erase`` was not
confirmed), 2 a usage, configuration or storage error (or a consent id the log
does not know), told in one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import tomllib
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from . import __version__
from ._config import CHAIN_KEY_ENV, check_retention_days, sqlite_relative_to
from ._exceptions import ConsentGateError
from ._outbox import Outbox
from ._rights import erase_from, history_of, record_document
from ._scan_command import add_scan_parser
from .log import ChainHead, ConsentLog, ConsentRecord, HeadTimestamp, UnreadableRecord, open_log
from .log._chain import format_time, head_json
from .log._export import FORMATS, export_chunks, parse_when
from .log._open import check_store_url
from .log._texts import TextsStore, texts_json

__all__ = ["main"]

EXIT_OK, EXIT_BROKEN, EXIT_ERROR = 0, 1, 2
#: Seconds between progress updates on a terminal.
_PROGRESS_INTERVAL = 0.2
_BAR_WIDTH = 30


class _Failure(Exception):
    """A usage, configuration or storage problem: one line on stderr, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = args.run
    _quiet_logging()
    try:
        return asyncio.run(run(args))
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say, and nowhere to say it.
        # As the Python docs advise, point stdout at /dev/null so the flush at exit is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (_Failure, ConsentGateError, OSError) as exc:
        print(f"consentgate {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"consentgate {args.command}: interrupted", file=sys.stderr)
        return 130


def _quiet_logging() -> None:
    """Errors once each: a connection pool retrying would repeat its error for every try.

    Does nothing where logging is set up already (e.g. when main() runs in an app).
    """
    if logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("consentgate: %(message)s"))
    seen: set[str] = set()

    def first_time(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in seen:
            return False
        seen.add(message)
        return True

    handler.addFilter(first_time)
    logging.basicConfig(level=logging.ERROR, handlers=[handler])


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the site's consentgate TOML file, for its store (and retention_days)",
    )
    common.add_argument("--store", metavar="URL", help="the consent log URL; overrides --config")
    common.add_argument(
        "--chain-key-file",
        type=Path,
        metavar="FILE",
        help=f"a keyed chain's key, read from FILE (else ${CHAIN_KEY_ENV}, else --config)",
    )
    parser = argparse.ArgumentParser(
        prog="consentgate",
        description="Look after a consentgate consent log, or scan a site behind consentgate.",
    )
    parser.add_argument("--version", action="version", version=f"consentgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser(
        "migrate", parents=[common], help="create or upgrade the log's schema"
    )
    migrate.set_defaults(run=_migrate)

    verify = commands.add_parser(
        "verify", parents=[common], help="check the hash chain; exit 1 at the first broken link"
    )
    verify.add_argument(
        "--expect-head",
        type=_head,
        metavar="SEQ:HASH",
        help="a head kept elsewhere (from `consentgate head`): exit 1 unless the log holds it",
    )
    verify.add_argument(
        "--tsa-cert",
        type=Path,
        metavar="FILE",
        help="trusted TSA certificates (PEM): each timestamp token must chain to one",
    )
    verify.set_defaults(run=_verify)

    timestamps = commands.add_parser(
        "timestamps",
        parents=[common],
        help="list the RFC 3161 timestamps of the head kept in the log (anchor_tsa_url)",
    )
    timestamps.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="also write each token (SEQ.tst) and the bytes it timestamps (SEQ.json) there",
    )
    timestamps.set_defaults(run=_list_timestamps)

    head = commands.add_parser(
        "head", parents=[common], help="print the head of the chain as SEQ:HASH, to keep elsewhere"
    )
    head.set_defaults(run=_show_head)

    export = commands.add_parser(
        "export", parents=[common], help="write the records as CSV or JSON Lines"
    )
    export.add_argument("--format", choices=FORMATS, help="default: csv")
    export.add_argument(
        "--since", type=_when, metavar="WHEN", help="records at or after this ISO date/time (UTC)"
    )
    export.add_argument(
        "--until", type=_when, metavar="WHEN", help="records before this ISO date/time (UTC)"
    )
    export.add_argument("--consent-id", metavar="ID", help="only this visitor's records")
    export.add_argument(
        "--texts",
        action="store_true",
        help="instead of the records, the texts visitors were shown (per category revision "
        "and page fingerprint), as one JSON array",
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    export.set_defaults(run=_export)

    prune = commands.add_parser(
        "prune",
        parents=[common],
        help="delete records older than --before or the config's retention_days",
    )
    prune.add_argument(
        "--before", type=_when, metavar="WHEN", help="delete records older than this date/time"
    )
    prune.set_defaults(run=_prune)

    _add_record_commands(commands, common)
    add_scan_parser(commands)
    return parser


def _head(text: str) -> ChainHead:
    try:
        return ChainHead.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_record_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """``show`` and ``erase``: answering one visitor's access or erasure request."""
    show = commands.add_parser(
        "show",
        parents=[common],
        help="one visitor's consent record, as they would download it themselves",
    )
    show.add_argument("--consent-id", required=True, metavar="ID", help="the visitor's id")
    show.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    show.set_defaults(run=_show)

    erase = commands.add_parser(
        "erase",
        parents=[common],
        help="erase one visitor's records (they become tombstones; the chain still verifies)",
    )
    erase.add_argument("--consent-id", required=True, metavar="ID", help="the visitor's id")
    erase.add_argument("--yes", action="store_true", help="erase without asking")
    erase.set_defaults(run=_erase)


def _when(text: str) -> datetime:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is after year 9999 in UTC
        raise argparse.ArgumentTypeError(f"{text!r} is out of the range of dates") from None


# -- the subcommands ----------------------------------------------------------


async def _migrate(args: argparse.Namespace) -> int:
    async with _OpenLog(args, create=True) as log:
        version = await log.migrate()
    print(f"schema version {version}")
    return EXIT_OK


async def _verify(args: argparse.Namespace) -> int:
    async with _OpenLog(args) as log:
        if log.chain_key is None and await _is_keyed(log):
            raise _Failure(
                f"the log's chain is keyed: give its key in ${CHAIN_KEY_ENV}, "
                "--chain-key-file or the --config file's chain_key"
            )
        trusted = _trusted_certificates(args.tsa_cert)
        stamps = await log.timestamps()
        report = await log.verify(
            expect_head=args.expect_head,
            stamped={s.sequence: s.hash for s in stamps if isinstance(s, HeadTimestamp)},
        )
    where: int | None
    if report.ok:
        try:
            checked = await asyncio.to_thread(_check_timestamps, stamps, trusted)
        except _BrokenTimestamp as broken:
            where, reason = broken.args
        else:
            erased = f", {report.erased} of them erased" if report.erased else ""
            keyed = f", {report.keyed} keyed" if report.keyed else ""
            # The head, to keep elsewhere: a later verify can then tell a cut-off tail.
            head = f"; head: {report.last_sequence}:{report.last_hash}"
            shown = head if report.last_sequence is not None else ""
            print(f"ok: {report.reason}{erased}{keyed}{shown}{checked}")
            return EXIT_OK
    else:
        where, reason = report.first_broken_sequence, report.reason
    print(f"BROKEN{f' at record {where}' if where is not None else ''}: {reason}")
    return EXIT_BROKEN


class _BrokenTimestamp(Exception):
    """A kept timestamp that proves nothing: (sequence or None, reason)."""


def _check_timestamps(stamps: Sequence[HeadTimestamp | UnreadableRecord], trusted: Any) -> str:
    """Check every kept token; what to add to verify's line, or _BrokenTimestamp."""
    if not stamps:
        return ""
    tsa = _tsa_module()
    newest: tuple[datetime, HeadTimestamp, Any] | None = None
    for stamp in stamps:
        if isinstance(stamp, UnreadableRecord):
            raise _BrokenTimestamp(None, stamp.reason)
        try:
            info = tsa.check_token(stamp.token, stamp.sequence, stamp.hash, trusted)
        except tsa.TimestampError as exc:
            raise _BrokenTimestamp(
                stamp.sequence, f"the timestamp token of record {stamp.sequence}: {exc}"
            ) from None
        if info.time != stamp.time:
            raise _BrokenTimestamp(
                stamp.sequence,
                f"the timestamp of record {stamp.sequence} says {format_time(stamp.time)}, "
                f"its token {format_time(info.time)}",
            )
        if newest is None or info.time >= newest[0]:
            newest = (info.time, stamp, info)
    assert newest is not None
    time, stamp, info = newest
    chained = ", each chaining to a trusted certificate" if trusted else ""
    return (
        f"; {len(stamps)} timestamp{'s' if len(stamps) != 1 else ''} checked{chained}, "
        f"the newest {format_time(time)} for record {stamp.sequence} by {info.tsa}"
    )


def _tsa_module() -> Any:
    try:
        from . import _tsa
    except ImportError as exc:
        raise _Failure(
            f"the log keeps timestamp tokens; checking them needs asn1crypto and "
            f"cryptography ({exc}): pip install consentgate[tsa]"
        ) from exc
    return _tsa


def _trusted_certificates(path: Path | None) -> Any:
    """The certificates of ``--tsa-cert``, or () without it."""
    if path is None:
        return ()
    tsa = _tsa_module()
    try:
        return tsa.load_certificates(path.read_bytes())
    except OSError as exc:
        raise _Failure(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    except ValueError as exc:
        raise _Failure(f"{os.fspath(path)!r} holds no PEM certificate: {exc}") from exc


async def _list_timestamps(args: argparse.Namespace) -> int:
    async with _OpenLog(args) as log:
        stamps = await log.timestamps()
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    for stamp in stamps:
        if isinstance(stamp, UnreadableRecord):
            print(f"unreadable: {stamp.reason}")
            continue
        print(f"{stamp.sequence}:{stamp.hash}  {format_time(stamp.time)}")
        if args.save is not None:
            (args.save / f"{stamp.sequence}.tst").write_bytes(stamp.token)
            data = head_json(stamp.sequence, stamp.hash)
            (args.save / f"{stamp.sequence}.json").write_bytes(data)
    if not stamps:
        print("no timestamps kept (set anchor_tsa_url to have them)", file=sys.stderr)
    return EXIT_OK


async def _show_head(args: argparse.Namespace) -> int:
    async with _OpenLog(args) as log:
        head = await log.head()
    if head is None:
        raise _Failure(f"{type(log).__name__} keeps no head")
    print(head)
    return EXIT_OK


async def _export(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since >= args.until:
        raise _Failure("--since must be before --until")
    if args.texts and (args.since or args.until or args.consent_id or args.format):
        raise _Failure("--texts takes none of --format, --since, --until, --consent-id")
    args.format = args.format or "csv"
    async with _OpenLog(args) as log:
        if args.texts:
            return await _export_texts(args, log)
        if args.output is None:
            await _write(args, log, sys.stdout.buffer)
            return EXIT_OK
        # Written aside and renamed at the end, so a failed export leaves no
        # file that looks complete.
        partial = args.output.with_name(args.output.name + ".partial")
        try:
            with partial.open("wb") as out:
                count = await _write(args, log, out)
            partial.replace(args.output)
        except OSError as exc:
            raise _Failure(f"cannot write {os.fspath(args.output)!r}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)
    print(f"{count:,} records written to {os.fspath(args.output)}", file=sys.stderr)
    return EXIT_OK


async def _export_texts(args: argparse.Namespace, log: ConsentLog) -> int:
    """``export --texts``: the log's texts table as one JSON array (see ``log._texts``)."""
    if not isinstance(log, TextsStore):
        raise _Failure(f"{type(log).__name__} keeps no texts")
    kept = await log.kept_texts()
    text = texts_json(kept).encode("utf-8")
    if args.output is None:
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        args.output.write_bytes(text)
    except OSError as exc:
        raise _Failure(f"cannot write {os.fspath(args.output)!r}: {exc}") from exc
    print(f"{len(kept):,} texts written to {os.fspath(args.output)}", file=sys.stderr)
    return EXIT_OK


async def _prune(args: argparse.Namespace) -> int:
    async with _OpenLog(args) as log:
        before = args.before
        if before is None:
            days = _settings(args).get("retention_days")
            if days is None:
                raise _Failure("give --before DATE, or set retention_days in the --config file")
            check_retention_days(days)
            before = datetime.now(UTC) - timedelta(days=days)
        deleted = await log.prune(before)
    print(f"deleted {deleted} records older than {before.isoformat()}")
    return EXIT_OK


async def _show(args: argparse.Namespace) -> int:
    opened = _OpenLog(args)
    async with opened as log:
        records = await _history(log, opened.outbox, args.consent_id)
    if args.format == "json":
        settings = _settings(args)
        document = record_document(
            args.consent_id,
            records,
            controller={
                "name": settings.get("controller_name"),
                "address": settings.get("controller_address"),
                "email": settings.get("controller_email"),
                "privacy_policy_url": settings.get("privacy_policy_url"),
            },
            retention_days=settings.get("retention_days"),
        )
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(f"consent id {args.consent_id}: {len(records)} records")
        print(_table(records))
    return EXIT_OK


async def _erase(args: argparse.Namespace) -> int:
    opened = _OpenLog(args)
    async with opened as log:
        records = await _history(log, opened.outbox, args.consent_id)
        count = sum(record.action != "erase" for record in records)
        if count == 0:
            when = format_time(records[-1].time)
            print(f"nothing left to erase: consent id {args.consent_id} was erased at {when}")
            return EXIT_OK
        if not args.yes and not _confirmed(
            f"Erase the {count} records of consent id {args.consent_id}? Their content "
            "cannot be restored, and the proof of this visitor's choices is gone. [y/N] "
        ):
            print(f"consentgate {args.command}: nothing erased", file=sys.stderr)
            return EXIT_BROKEN
        erased = await erase_from(log, opened.outbox, args.consent_id)
    print(
        f"erased {erased} records of consent id {args.consent_id}; "
        "the log keeps an erase record of it"
    )
    return EXIT_OK


# -- helpers ------------------------------------------------------------------


async def _history(log: ConsentLog, outbox: Outbox, consent_id: str) -> list[ConsentRecord]:
    """The visitor's records; a consent id the log never held is a failure (exit 2)."""
    records = await history_of(log, outbox, consent_id)
    if not records:
        raise _Failure(f"the consent log holds no record of consent id {consent_id!r}")
    return records


def _confirmed(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:  # no terminal to ask: the safe answer
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")


_TABLE_COLUMNS = (
    "sequence",
    "time",
    "action",
    "granted",
    "refused",
    "providers",
    "policy",
    "source",
    "language",
    "gpc",
    "user agent",
    "ip",
)


def _table(records: Sequence[ConsentRecord]) -> str:
    """The records as an aligned text table, one line each; ``-`` where nothing is kept."""
    rows = [_TABLE_COLUMNS] + [
        tuple(
            _printable(value)
            for value in (
                str(record.sequence),
                format_time(record.time),
                record.action,
                ",".join(record.granted) or "-",
                ",".join(record.refused) or "-",
                ",".join(record.providers) or "-",
                record.policy_version or "-",
                record.source,
                record.language or "-",
                "yes" if record.gpc else "-",
                record.user_agent or "-",
                record.ip or "-",
            )
        )
        for record in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _printable(value: str) -> str:
    """A stored value safe to print on a terminal: no control characters."""
    return "".join(c if c.isprintable() else "?" for c in value)


class _OpenLog:
    """The log the arguments name, opened for the command and closed after it.

    Only ``migrate`` may create a SQLite file: a typo in a path must not give
    a fresh, empty log that verifies.
    """

    def __init__(self, args: argparse.Namespace, *, create: bool = False) -> None:
        settings = _settings(args)
        url = args.store or settings.get("store")
        if not url:
            raise _Failure("no store: give --store URL or --config FILE with a store setting")
        if not isinstance(url, str):
            raise _Failure("store must be a consent log URL like sqlite:///consentgate.db")
        if not args.store:  # as the app reads the file: relative to its folder
            url = sqlite_relative_to(url, args.config.absolute().parent)
        timeout = settings.get("store_timeout", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise _Failure(f"store_timeout must be a positive number of seconds, not {timeout!r}")
        self.log = open_log(url, timeout=float(timeout), chain_key=_chain_key(args, settings))
        self.create = create
        #: The site's outbox, as the app finds it: what a visitor withdrew while the log was
        #: down, which ``show`` and ``erase`` write to the log first.
        self.outbox = Outbox(self.log, _outbox_path(args, settings, url))

    async def __aenter__(self) -> ConsentLog:
        # Reading commands must not create a log, or a mistyped path or database
        # would verify as an empty log (and get tables).
        log = self.log
        if not self.create and not await log.has_log():
            await log.aclose()
            raise _Failure(f"no consent log at {log.name} (`consentgate migrate` creates one)")
        return log

    async def __aexit__(self, *exc_info: object) -> None:
        await self.log.aclose()


def _chain_key(args: argparse.Namespace, settings: dict[str, Any]) -> str | None:
    """The chain key: from the environment, else ``--chain-key-file``, else the config file."""
    key = os.environ.get(CHAIN_KEY_ENV)
    if not key and args.chain_key_file is not None:
        try:
            key = args.chain_key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _Failure(f"cannot read {os.fspath(args.chain_key_file)!r}: {exc}") from exc
    if not key:
        key = settings.get("chain_key")
    if key is None or key == "":
        return None
    if not isinstance(key, str):
        raise _Failure("chain_key must be text")
    return key


async def _is_keyed(log: ConsentLog) -> bool:
    """Whether the head says the chain is keyed; a log without a readable head is not."""
    try:
        head = await log.head()
    except ConsentGateError:
        return False  # verify reports what is wrong with it
    return head is not None and head.mac is not None


def _outbox_path(args: argparse.Namespace, settings: dict[str, Any], url: str) -> Path | None:
    """The outbox file the site uses (``ConsentConfig.outbox_path``): the config file's
    ``outbox``, relative to the file, or the one beside a SQLite store."""
    outbox = settings.get("outbox")
    if isinstance(outbox, str) and outbox and args.config is not None:
        folder: Path = args.config.absolute().parent
        return folder / outbox
    if url.partition("://")[0].lower() == "sqlite":
        database = check_store_url(url)
        if database != ":memory:":
            return Path(database + "-outbox")
    return None


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of the ``--config`` file (its ``[consentgate]`` table if it has one)."""
    if args.config is None:
        return {}
    try:
        data = tomllib.loads(args.config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _Failure(f"cannot read {os.fspath(args.config)!r}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _Failure(f"{os.fspath(args.config)!r} is not valid TOML: {exc}") from exc
    table = data.get("consentgate", data)
    return table if isinstance(table, dict) else {}


async def _write(args: argparse.Namespace, log: ConsentLog, out: IO[bytes]) -> int:
    """Write the export to ``out``; returns the records written. Shows progress on a terminal."""
    progress = None
    if sys.stderr.isatty():
        total = await log.count_records(
            since=args.since, until=args.until, consent_id=args.consent_id
        )
        progress = _Progress(sys.stderr, total)
    count = 0

    def counted(records: int) -> None:
        nonlocal count
        count += records
        if progress is not None:
            progress.update(count)

    chunks = export_chunks(
        log,
        args.format,
        since=args.since,
        until=args.until,
        consent_id=args.consent_id,
        on_page=counted,
    )
    async for chunk in chunks:
        out.write(chunk.encode("utf-8"))
    out.flush()
    if progress is not None:
        progress.done(count)
    return count


class _Progress:
    """A bar (a count for an export of nothing) and the rate, rewritten in place."""

    def __init__(self, stream: IO[str], total: int) -> None:
        self.stream = stream
        self.total = total
        self.started = self.shown = time.monotonic()

    def update(self, count: int) -> None:
        now = time.monotonic()
        if now - self.shown >= _PROGRESS_INTERVAL:
            self.shown = now
            self._show(count, now)

    def done(self, count: int) -> None:
        self._show(count, time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def _show(self, count: int, now: float) -> None:
        rate = count / max(now - self.started, 1e-9)
        if self.total:
            # Records may arrive while the export runs: the bar stops at full.
            share = min(count / self.total, 1.0)
            filled = round(share * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            line = f"[{bar}] {share:4.0%} {count:,}/{self.total:,} records"
        else:
            line = f"exporting: {count:,} records"
        self.stream.write(f"\r{line}  {rate:,.0f}/s ")
        self.stream.flush()
