"""The ``consentgate`` command, run through ``main(argv)`` and once as the installed script."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import consentgate
from consentgate._cli import main
from consentgate.log import SQLiteConsentLog
from consentgate.log._export import EXPORT_COLUMNS

from .helpers import make_record
from .stores import Store

NOW = datetime.now(UTC)


def fill(path: Path, times: list[datetime]) -> None:
    """A log at ``path`` with one record per time, visitor ids ``v0``, ``v1``, ..."""

    async def run() -> None:
        async with SQLiteConsentLog(path) as log:
            for i, time in enumerate(times):
                await log.record(make_record(consent_id=f"v{i}", time=time))

    asyncio.run(run())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "consent.db"
    fill(path, [NOW - timedelta(days=d) for d in (40, 35, 10, 1)])
    return path


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def write_config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "consentgate.toml"
    config.write_text(text, encoding="utf-8")
    return config


# -- migrate and verify -----------------------------------------------------------


def test_migrate_creates_the_log_and_prints_the_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new.db"
    assert main(["migrate", "--store", url(path)]) == 0
    assert capsys.readouterr().out == "schema version 6\n"
    assert path.is_file()
    assert main(["migrate", "--store", url(path)]) == 0  # idempotent


def test_verify_an_intact_log(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--store", url(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 4 records verified from genesis; head: 4:")


def test_verify_reports_the_first_broken_link_and_exits_1(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE consent_records SET granted = '[]' WHERE sequence = 2")
    assert main(["verify", "--store", url(db)]) == 1
    assert capsys.readouterr().out == (
        "BROKEN at record 2: record 2 was altered: its content does not match its hash\n"
    )


def test_verify_reports_a_deleted_record(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM consent_records WHERE sequence = 3")
    assert main(["verify", "--store", url(db)]) == 1
    assert "BROKEN at record 4: records 3 to 3 are missing" in capsys.readouterr().out


def test_verify_reports_a_cut_off_tail(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM consent_records WHERE sequence = 4")
    assert main(["verify", "--store", url(db)]) == 1
    assert capsys.readouterr().out == (
        "BROKEN at record 4: records 4 to 4 are missing from the end: "
        "the log's head names record 4\n"
    )


def test_head_prints_what_verify_expects(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["head", "--store", url(db)]) == 0
    head = capsys.readouterr().out
    assert re.fullmatch(r"4:[0-9a-f]{64}\n", head)
    assert main(["verify", "--store", url(db), "--expect-head", head.strip()]) == 0
    fill(db, [NOW])  # the log grows; the head kept elsewhere still holds
    assert main(["verify", "--store", url(db), "--expect-head", head.strip()]) == 0
    capsys.readouterr()
    # Cut back to record 3 with the head moved along: only the kept head shows it.
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM consent_records WHERE sequence > 3")
        conn.execute(
            "UPDATE consent_head SET sequence = 3, "
            "hash = (SELECT hash FROM consent_records WHERE sequence = 3)"
        )
    assert main(["verify", "--store", url(db)]) == 0
    assert main(["verify", "--store", url(db), "--expect-head", head.strip()]) == 1
    assert capsys.readouterr().out.endswith(
        "BROKEN at record 4: record 4, the expected head, is missing: the log ends at record 3\n"
    )


@pytest.mark.parametrize("head", ["4", "4:abc", "x:" + "0" * 64, "4:" + "A" * 64])
def test_a_malformed_expected_head_is_a_usage_error(
    db: Path, head: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--store", url(db), "--expect-head", head]) == 2
    assert "SEQUENCE:HASH" in capsys.readouterr().err


def test_a_malformed_checkpoint_is_a_broken_chain_not_a_read_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pruned.db"
    fill(path, [NOW - timedelta(days=d) for d in (40, 35, 10, 1)])
    assert (
        main(["prune", "--store", url(path), "--before", (NOW - timedelta(days=20)).isoformat()])
        == 0
    )
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE checkpoints SET sequence = 'two'")
    capsys.readouterr()
    assert main(["verify", "--store", url(path)]) == 1
    assert capsys.readouterr().out.startswith("BROKEN: the prune checkpoint is unreadable")


KEY = "chain-key-that-is-long-enough-0123456789"


def test_a_keyed_log_is_verified_with_the_key_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyed.db"

    async def run() -> None:
        async with SQLiteConsentLog(path, chain_key=KEY) as log:
            for i in range(3):
                await log.record(make_record(consent_id=f"v{i}"))

    asyncio.run(run())
    assert main(["verify", "--store", url(path)]) == 2
    assert "the log's chain is keyed: give its key in $CONSENTGATE_CHAIN_KEY" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv("CONSENTGATE_CHAIN_KEY", KEY)
    assert main(["verify", "--store", url(path)]) == 0
    assert capsys.readouterr().out.startswith("ok: 3 records verified from genesis, 3 keyed;")
    monkeypatch.setenv("CONSENTGATE_CHAIN_KEY", "another-key-that-is-long-enough-0123456789")
    assert main(["verify", "--store", url(path)]) == 1
    monkeypatch.delenv("CONSENTGATE_CHAIN_KEY")
    key_file = tmp_path / "chain.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    assert main(["verify", "--store", url(path), "--chain-key-file", str(key_file)]) == 0


def test_the_chain_key_is_never_taken_from_the_command_line(db: Path) -> None:
    assert main(["verify", "--store", url(db), "--chain-key", KEY]) == 2


# -- export -------------------------------------------------------------------------


def test_export_csv_to_a_file(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export.csv"
    assert main(["export", "--store", url(db), "-o", str(out)]) == 0
    assert capsys.readouterr().err == f"4 records written to {out}\n"
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [row[2] for row in rows[1:]] == ["v0", "v1", "v2", "v3"]
    assert not list(tmp_path.glob("*.partial"))


def test_export_jsonl_to_stdout_with_filters(
    db: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    since = (NOW - timedelta(days=36)).date().isoformat()
    until = (NOW - timedelta(days=5)).isoformat()
    assert (
        main(
            ["export", "--store", url(db), "--format", "jsonl", "--since", since, "--until", until]
        )
        == 0
    )
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["v1", "v2"]


def test_export_one_visitor(db: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["export", "--store", url(db), "--consent-id", "v3"]) == 0
    rows = list(csv.reader(io.StringIO(capsysbinary.readouterr().out.decode(), newline="")))
    assert [row[2] for row in rows] == ["consent_id", "v3"]


def test_export_shows_progress_only_on_a_terminal(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["export", "--store", url(db), "-o", str(tmp_path / "x.csv")]) == 0
    assert re.match(
        r"\r\[#{30}\] 100% 4/4 records  [\d,]+/s \n4 records written", terminal.getvalue()
    )

    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    assert main(["export", "--store", url(db), "-o", str(tmp_path / "y.csv")]) == 0
    assert "exporting" not in piped.getvalue()


def test_progress_with_nothing_to_count_against_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    from consentgate._cli import _Progress

    stream = io.StringIO()
    progress = _Progress(stream, 0)
    progress.done(1234)
    assert re.fullmatch(r"\rexporting: 1,234 records  [\d,]+/s \n", stream.getvalue())
    halfway = io.StringIO()
    _Progress(halfway, 10).done(5)
    assert halfway.getvalue().startswith("\r[" + "#" * 15 + "-" * 15 + "]  50% 5/10 records")


def test_export_to_an_unwritable_place_fails_cleanly(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "export.csv"
    assert main(["export", "--store", url(db), "-o", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not target.parent.exists()


# -- prune ----------------------------------------------------------------------------


def test_prune_before_a_date_keeps_the_chain_verifiable(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (NOW - timedelta(days=20)).date().isoformat()
    assert main(["prune", "--store", url(db), "--before", before]) == 0
    assert capsys.readouterr().out.startswith("deleted 2 records older than ")
    assert main(["verify", "--store", url(db)]) == 0
    assert "2 records verified from the checkpoint after record 2" in capsys.readouterr().out


def test_prune_uses_retention_days_from_a_config_without_secret(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTGATE_SECRET_KEY", raising=False)
    config = write_config(tmp_path, f'store = "{url(db)}"\nretention_days = 30\n')
    assert main(["prune", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("deleted 2 records")
    assert main(["export", "--config", str(config), "--format", "jsonl"]) == 0


def test_store_option_overrides_the_config_and_a_table_is_read(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, '[consentgate]\nstore = "sqlite:///elsewhere.db"\npolicy_version = "3"\n'
    )
    assert main(["verify", "--config", str(config), "--store", url(db)]) == 0
    assert main(["verify", "--config", str(config)]) == 2
    assert "no consent log at" in capsys.readouterr().err


def test_a_relative_store_in_the_config_is_next_to_the_file_as_the_app_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    config = write_config(site, 'store = "sqlite:///data/consent.db"\n')
    (site / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["migrate", "--config", "site/consentgate.toml"]) == 0
    assert (site / "data" / "consent.db").is_file()
    assert not (tmp_path / "data").exists()
    assert main(["verify", "--config", str(config)]) == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"consentgate {consentgate.__version__}\n"


# -- errors: exit 2 and one line, never a traceback -----------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify"], "no store: give --store URL or --config FILE"),
        (["verify", "--store", "mysql://x/y"], "unsupported consent log URL scheme"),
        (["verify", "--store", "not a url"], "is not a consent log URL"),
        (["verify", "--store", "sqlite:////no/such/dir/x.db"], "no consent log at"),
        (["migrate", "--store", "sqlite:////no/such/dir/x.db"], "unable to open database"),
        (["verify", "--config", "/no/such/consentgate.toml"], "cannot read"),
        (["prune", "--store", "sqlite:///:memory:"], "give --before DATE, or set retention_days"),
    ],
)
def test_errors_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("store = ", "is not valid TOML"),
        ("store = 5", "store must be a consent log URL"),
        (
            'store = "sqlite:///:memory:"\nstore_timeout = -1',
            "store_timeout must be a positive number",
        ),
        ('store = "sqlite:///:memory:"\nretention_days = 0', "retention_days: must be a whole"),
        ('store = "sqlite:///:memory:"\nretention_days = "30"', "retention_days: must be a whole"),
    ],
)
def test_bad_config_files_exit_2(
    config: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, config)
    assert main(["prune", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["export", "--format", "xml", "--store", "sqlite:///:memory:"],
        ["export", "--since", "last tuesday", "--store", "sqlite:///:memory:"],
        ["export", "--since", "0001-01-01T00:00:00+01:00", "--store", "sqlite:///:memory:"],
        ["export", "--until", "9999-12-31T23:59:59-01:00", "--store", "sqlite:///:memory:"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: consentgate" in capsys.readouterr().err


def test_since_after_until_is_refused(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["export", "--store", url(db), "--since", "2024-02-01", "--until", "2024-01-01"]
    assert main(argv) == 2
    assert "--since must be before --until" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "migrate" in capsys.readouterr().out


# -- the installed script ---------------------------------------------------------------


@pytest.mark.slow  # starts the command as a process
def test_the_installed_script_verifies_and_reports_a_tampered_log(db: Path) -> None:
    script = Path(sys.executable).parent / "consentgate"
    assert script.is_file(), "the consentgate script is not installed (pip install -e .)"
    ok = subprocess.run([script, "verify", "--store", url(db)], capture_output=True, text=True)
    assert (ok.returncode, ok.stderr) == (0, "")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE consent_records SET sequence = 9 WHERE sequence = 1")
    broken = subprocess.run([script, "verify", "--store", url(db)], capture_output=True, text=True)
    assert broken.returncode == 1
    assert broken.stdout.startswith("BROKEN at record 2:")
    bad = subprocess.run([script, "export", "--store", "x"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("consentgate export: store:")
    assert "Traceback" not in bad.stderr


@pytest.mark.slow  # starts the command as a process
def test_a_reader_that_goes_away_ends_the_export_quietly(db: Path) -> None:
    script = Path(sys.executable).parent / "consentgate"
    export = subprocess.Popen(
        [script, "export", "--store", url(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert export.stdout is not None and export.stderr is not None
    export.stdout.close()
    assert export.wait(timeout=30) == 2  # closed long before the command writes
    assert b"Traceback" not in export.stderr.read()
    export.stderr.close()


@pytest.mark.slow  # starts the command as a process
def test_python_m_consentgate_is_the_same_command(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    done = subprocess.run(
        [sys.executable, "-m", "consentgate", "migrate", "--store", url(path)],
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (0, "schema version 6\n")
    assert path.is_file()


def test_the_command_works_on_either_store(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fill_store() -> None:
        async with store.open() as log:
            for i, days in enumerate((40, 35, 10)):
                await log.record(make_record(consent_id=f"v{i}", time=NOW - timedelta(days=days)))

    assert main(["migrate", "--store", store.url]) == 0
    asyncio.run(fill_store())
    assert (
        main(["prune", "--store", store.url, "--before", (NOW - timedelta(days=30)).isoformat()])
        == 0
    )
    assert main(["verify", "--store", store.url]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 records" in out
    assert "1 records verified from the checkpoint after record 2" in out
    assert main(["export", "--store", store.url, "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["v2"]
    store.tamper("UPDATE consent_records SET language = 'xx' WHERE sequence = 3")
    assert main(["verify", "--store", store.url]) == 1
    assert capsys.readouterr().out.startswith("BROKEN at record 3: record 3 was altered")


@pytest.mark.slow  # starts the command as a process
def test_an_unreachable_postgresql_server_is_exit_2_within_the_timeout(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    config = write_config(
        tmp_path, 'store = "postgresql://consent:hunter2@127.0.0.1:9/site"\nstore_timeout = 2\n'
    )
    script = Path(sys.executable).parent / "consentgate"
    started = time.monotonic()
    done = subprocess.run(
        [script, "verify", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert time.monotonic() - started < 20
    assert "consentgate verify: " in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    # The pool's retries are told once, not once a try.
    assert done.stderr.count("Connection refused") <= 1


# -- reading commands never create a log ---------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["verify"], ["export", "--format", "csv"], ["prune", "--before", "2020-01-01"]],
)
def test_a_sqlite_file_without_a_log_is_refused_and_left_alone(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Say, the app's own database named by mistake: no consent tables appear in it.
    other = tmp_path / "app.db"
    with closing(sqlite3.connect(other)) as conn, conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    assert main([*command, "--store", url(other)]) == 2
    assert "no consent log at" in capsys.readouterr().err
    with closing(sqlite3.connect(other)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"users"}


def test_a_database_without_a_log_is_refused_and_left_alone(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    # The store fixture is an empty database (or schema) of each backend.
    assert main(["verify", "--store", store.url]) == 2
    assert "no consent log at" in capsys.readouterr().err

    async def has_log() -> bool:
        async with store.open() as log:
            return await log.has_log()

    assert asyncio.run(has_log()) is False  # still nothing there
    assert main(["migrate", "--store", store.url]) == 0
    assert asyncio.run(has_log()) is True
    assert main(["verify", "--store", store.url]) == 0
