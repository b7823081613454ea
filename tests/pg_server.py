"""A real PostgreSQL server for the tests, in a temporary directory.

initdb makes a fresh cluster, pg_ctl starts it on 127.0.0.1 only (a free
port, its unix socket in the same directory), with fsync on, and stops it
again. initdb refuses to run as root: as root, the server runs as the
unprivileged ``postgres`` user (which Debian's package creates) or else
``nobody``, through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PostgresServer", "find_binaries"]

SUPERUSER = "consentgate"


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else the newest Debian install."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{directory}/pg_ctl", os.X_OK) and os.access(f"{directory}/initdb", os.X_OK):
            return Path(directory)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user() -> str | None:
    """Whom to run the server as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and there is no postgres or nobody user to run initdb")


@dataclass
class PostgresServer:
    """One throw-away cluster; ``start`` and ``stop`` may be called again and again."""

    bin_dir: Path
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="consentgate-pg-"))
    )
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.user = _unprivileged_user()
        self.data = self.directory / "data"
        self.sockets = self.directory / "sockets"
        self.sockets.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.directory, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            # Only initdb's own flush of the new files is skipped; the server runs with fsync on.
            "--no-sync",
        )

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database, as the superuser."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.sockets} -c fsync=on -c synchronous_commit=on "
            "-c max_connections=100 -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.directory / "server.log"),
            "--options",
            options,
            "--wait",
            "--timeout",
            "60",
            "start",
        )

    def stop(self) -> None:
        """Stop at once, as a crash or an operator would: clients lose their connections."""
        self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "fast", "--wait", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            self._command("pg_ctl", "--pgdata", str(self.data), "status"),
            capture_output=True,
            check=False,
            cwd=self.directory,
        )
        return status.returncode == 0

    def remove(self) -> None:
        """Stop the server if it runs and delete everything it had."""
        try:
            if self.running():
                self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "immediate", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.directory / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            return ["runuser", "-u", self.user, "--", *command]
        return command

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            self._command(program, *args),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=self.directory,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr or result.stdout}\n"
                f"{self.log_tail()}"
            )
