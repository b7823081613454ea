"""``python -m benchmarks log``: the consent log's durable write rate and its export speed.

Two suites (``--suites commit export``, both by default):

- ``commit``: 64 concurrent clients (``--clients``) each record consents one
  after another, each waiting for its record to be durable, for ``--seconds``;
  group commit (the default ``SQLiteConsentLog``) against one commit per
  record (``max_batch=1``), interleaved over ``--rounds``. Reported: durable
  consents per second and the ratio; target group commit >= 10x.
- ``export``: a log of ``--records`` (1,000,000) records exported to CSV (and
  JSON Lines) by the real command, ``python -m consentgate export``, in a
  child process. Reported: rows/s end to end (the command's whole run, start-up
  included) and inside ``main()``, and the child's peak RSS (``ru_maxrss``);
  targets >= 300,000 rows/s to CSV and peak RSS < 100 MB.

SQLite in a temporary folder by default; ``--store URL`` runs the suites on
another store, e.g. a PostgreSQL database (whose log then fills up: use an
empty database or schema of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consentgate.log import (
    ConsentLog,
    ConsentRecord,
    PostgresConsentLog,
    SQLiteConsentLog,
    open_log,
)
from consentgate.log._core import Steps
from consentgate.log._open import check_store_url

ROOT = Path(__file__).resolve().parent.parent
COMMIT_TARGET = 10.0
EXPORT_RATE_TARGET = 300_000
EXPORT_RSS_TARGET_MB = 100

#: The child that runs the export: times ``main()`` and reports its own peak RSS.
CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from consentgate._cli import main
imported = time.perf_counter()
status = main(sys.argv[1:])
done = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"status": status, "import": imported - started, "main": done - imported,
                  "cpu": usage.ru_utime + usage.ru_stime, "peak_kib": usage.ru_maxrss}),
      file=sys.stderr)
"""


def record(i: int, start: datetime) -> ConsentRecord:
    """A record like the banner writes: an id per visitor, three categories decided."""
    return ConsentRecord(
        consent_id=f"{i:032x}",
        time=start + timedelta(milliseconds=i),
        action="grant" if i % 3 else "reject",
        granted=("marketing", "statistics") if i % 3 else (),
        refused=("preferences",) if i % 3 else ("marketing", "preferences", "statistics"),
        policy_version="2026-11",
        language="da",
        source="banner",
        text_fingerprint="5f" * 32,
    )


# -- commit ---------------------------------------------------------------------------


async def _load(log: ConsentLog, clients: int, seconds: float) -> int:
    """Records made durable by ``clients`` concurrent writers in ``seconds``."""
    start = datetime.now(UTC)
    deadline = time.monotonic() + seconds
    counts = [0] * clients

    async def client(n: int) -> None:
        i = n
        while time.monotonic() < deadline:
            await log.record(record(i, start))
            counts[n] += 1
            i += clients

    await asyncio.gather(*(client(n) for n in range(clients)))
    return sum(counts)


def _make_log(store: str | None, workdir: Path, variant: str, round_: int) -> ConsentLog:
    """The log for one run: ``max_batch=1`` turns group commit off on either backend."""
    max_batch = 1 if variant == "one" else 256
    if store is None:
        return SQLiteConsentLog(workdir / f"commit-{variant}-{round_}.db", max_batch=max_batch)
    log = open_log(store)
    if isinstance(log, SQLiteConsentLog):
        return SQLiteConsentLog(log.path, max_batch=max_batch)
    if isinstance(log, PostgresConsentLog):
        return PostgresConsentLog(check_store_url(store), max_batch=max_batch)
    raise SystemExit(f"no way to turn group commit off for {type(log).__name__}")


def commit_suite(args: argparse.Namespace, workdir: Path) -> list[str]:
    variants = ["group", "one"]
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        order = variants if round_ % 2 == 0 else variants[::-1]
        for variant in order:

            async def run(variant: str = variant, round_: int = round_) -> float:
                async with _make_log(args.store, workdir, variant, round_) as log:
                    await log.migrate()
                    started = time.monotonic()
                    count = await _load(log, args.clients, args.seconds)
                    return count / (time.monotonic() - started)

            rate = asyncio.run(run())
            rates[variant].append(rate)
            print(
                f"[commit] round {round_ + 1} {variant:<5} {rate:>10,.0f} consents/s",
                file=sys.stderr,
                flush=True,
            )
    lines = [
        "## Durable consents per second",
        "",
        f"{args.clients} concurrent clients, each recording and waiting for durability, "
        f"{args.seconds:g} s per run, {args.rounds} rounds interleaved; medians. "
        + ("SQLite (WAL, synchronous=FULL) in a temporary file." if not args.store else ""),
        "",
        "| mode | consents/s (median) | every round |",
        "|---|---:|---:|",
    ]
    labels = {"group": "group commit (max_batch=256)", "one": "one commit per record (max_batch=1)"}
    for variant in variants:
        every = ", ".join(f"{r:,.0f}" for r in rates[variant])
        lines.append(f"| {labels[variant]} | {statistics.median(rates[variant]):,.0f} | {every} |")
    if "one" in rates:
        ratio = statistics.median(g / o for g, o in zip(rates["group"], rates["one"], strict=True))
        verdict = "pass" if ratio >= COMMIT_TARGET else "FAIL"
        lines += [
            "",
            f"Ratio group / one (median of per-round ratios): **{ratio:.1f}x** "
            f"(target ≥ {COMMIT_TARGET:g}x: {verdict})",
        ]
    return lines


# -- export -----------------------------------------------------------------------------


def fill_sqlite(path: Path, count: int) -> None:
    """A chained log of ``count`` records, written directly in big transactions (fast)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    log = SQLiteConsentLog(path)
    conn = log._connection()  # opened and migrated, on this thread

    def append(records: list[ConsentRecord]) -> Steps[None]:
        head = yield from log._lock_head()
        yield from log._append(head, [(r, log._check(r)) for r in records])

    try:
        for first in range(0, count, 20_000):
            batch = [record(i, start) for i in range(first, min(count, first + 20_000))]
            log._drive(conn, append(batch), "write")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        log._disconnect()
        log._executor.shutdown()


async def fill_store(store: str, count: int) -> None:
    """Through the public API, for stores other than SQLite."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with open_log(store) as log:
        await log.migrate()
        for first in range(0, count, 256):
            await asyncio.gather(
                *(log.record(record(i, start)) for i in range(first, min(count, first + 256)))
            )
    if isinstance(log, PostgresConsentLog):
        # Settle the fresh rows first, or autovacuum runs beside the timed export.
        import psycopg

        async with await psycopg.AsyncConnection.connect(
            check_store_url(store), autocommit=True
        ) as conn:
            await conn.execute("VACUUM ANALYZE consent_records")


def run_export(store: str, format: str, out: Path) -> dict[str, Any]:
    argv = ["export", "--store", store, "--format", format, "-o", str(out)]
    command = [sys.executable, "-c", CHILD, *argv]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    try:
        report: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"the export failed:\n{done.stderr}") from None
    if done.returncode != 0 or report["status"] != 0:
        raise SystemExit(f"the export failed:\n{done.stderr}")
    report["wall"] = wall
    report["bytes"] = out.stat().st_size
    report["command"] = "python -m consentgate " + shlex.join(argv)
    return report


def export_suite(args: argparse.Namespace, workdir: Path) -> list[str]:
    store = args.store
    if store is None:
        path = workdir / "export.db"
        started = time.perf_counter()
        fill_sqlite(path, args.records)
        store = f"sqlite:///{path}"
    else:
        started = time.perf_counter()
        asyncio.run(fill_store(store, args.records))
    print(
        f"[export] filled {args.records:,} records in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    results: dict[str, list[dict[str, Any]]] = {"csv": [], "jsonl": []}
    for round_ in range(args.rounds):
        for format in args.formats:
            report = run_export(store, format, workdir / f"export.{format}")
            results[format].append(report)
            print(
                f"[export] round {round_ + 1} {format:<5} {args.records / report['wall']:>10,.0f} "
                f"rows/s end to end, {args.records / report['main']:>10,.0f} in main(), "
                f"{args.records / report['cpu']:>10,.0f} per CPU-s, "
                f"peak RSS {report['peak_kib'] / 1024:.1f} MiB",
                file=sys.stderr,
                flush=True,
            )
    lines = [
        f"## Export of {args.records:,} records",
        "",
        "The real command in a child process (`python -m consentgate export ... -o FILE`); "
        f"{args.rounds} rounds, medians. End to end = the command's wall time, interpreter "
        "start-up and imports included; main() = the export itself; per CPU-second = rows "
        "over the child's user + system time, which other load on the machine moves less. "
        "Peak RSS = the child's ru_maxrss.",
        "",
        "| format | rows/s end to end | rows/s in main() | rows per CPU-second | peak RSS (MiB) "
        "| file (MB) | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for format in args.formats:
        runs = results[format]
        rate = statistics.median(args.records / r["wall"] for r in runs)
        inner = statistics.median(args.records / r["main"] for r in runs)
        per_cpu = statistics.median(args.records / r["cpu"] for r in runs)
        peak = max(r["peak_kib"] for r in runs) / 1024
        size = runs[0]["bytes"] / 1e6
        target = ""
        if format == "csv":
            ok = rate >= EXPORT_RATE_TARGET and peak < EXPORT_RSS_TARGET_MB
            target = f"≥ {EXPORT_RATE_TARGET:,} rows/s, < {EXPORT_RSS_TARGET_MB} MB: " + (
                "pass" if ok else "FAIL"
            )
        lines.append(
            f"| {format} | {rate:,.0f} | {inner:,.0f} | {per_cpu:,.0f} | {peak:.1f} | {size:.0f} "
            f"| {target} |"
        )
    lines += ["", f"Command: `{results[args.formats[0]][0]['command']}`"]
    return lines


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks log",
        description="The consent log: group commit vs one commit per record, and export speed.",
    )
    parser.add_argument(
        "--suites", nargs="+", choices=["commit", "export"], default=["commit", "export"]
    )
    parser.add_argument("--store", metavar="URL", help="default: SQLite in a temporary folder")
    parser.add_argument("--clients", type=int, default=64, help="concurrent writers (64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per commit run (5)")
    parser.add_argument("--records", type=int, default=1_000_000, help="records to export")
    parser.add_argument("--formats", nargs="+", choices=["csv", "jsonl"], default=["csv", "jsonl"])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per suite (3)")
    parser.add_argument(
        "--wait-for-load",
        type=float,
        metavar="LOAD",
        help="first wait (up to 15 min) until the 1-minute load average is below LOAD",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.records < 1 or args.rounds < 1:
        parser.error("--clients, --seconds, --records and --rounds must be positive")
    args.argv = list(argv)
    return args


def wait_for_load(limit: float, patience: float = 15 * 60) -> None:
    """On a shared machine, start when the others are quiet (or give up waiting)."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.wait_for_load is not None:
        wait_for_load(args.wait_for_load)
    lines = [
        "# consentgate consent log benchmark",
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `python -m benchmarks log {shlex.join(args.argv)}`",
        f"- nproc {len(os.sched_getaffinity(0))}, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}, load average before: {os.getloadavg()[0]:.2f}",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="consentgate-logbench-") as tmp:
        if "commit" in args.suites:
            lines += commit_suite(args, Path(tmp)) + [""]
        if "export" in args.suites:
            lines += export_suite(args, Path(tmp)) + [""]
    lines.append(f"Load average after: {os.getloadavg()[0]:.2f}")
    print("\n".join(lines))
    return 0
