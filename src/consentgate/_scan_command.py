"""``consentgate scan URL``: its arguments, and running it.

Kept apart from :mod:`consentgate.scan` so that ``consentgate --help`` and the log
commands work without the ``scan`` extra: httpx is imported only when a scan runs.
Exit status: 0 clean, 1 a violation (or a finding ``--fail-on`` names), 2 a usage
or network error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import ConsentGateError

if TYPE_CHECKING:
    from .scan import Visitor

__all__ = ["add_scan_parser"]

EXIT_OK, EXIT_FAILED = 0, 1
FORMATS = ("table", "json", "html")
FAIL_ON = ("undeclared", "stale")


class ScanUsageError(ConsentGateError):
    """Something the command cannot do as asked: exit status 2."""


def add_scan_parser(commands: Any) -> None:
    scan = commands.add_parser(
        "scan",
        help="visit a running site as three visitors; exit 1 if anything tracks before consent",
        description=(
            "Crawl a site's pages (same origin, its links and sitemap.xml) as a new visitor, "
            "one who chose Reject all and one who chose Accept all (through the banner's own "
            "form), and check cookies and tracker markup against the tracker registry and the "
            "site's cookie declaration. Exit 0 clean, 1 a violation, 2 a usage or network error."
        ),
    )
    scan.add_argument("url", metavar="URL", help="the start page, e.g. http://127.0.0.1:8000/")
    scan.add_argument(
        "--max-pages", type=_positive_int, default=50, metavar="N", help="default: 50"
    )
    scan.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    scan.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    scan.add_argument(
        "--ignore-robots",
        action="store_true",
        help="ignore robots.txt (its Disallow and Crawl-delay)",
    )
    scan.add_argument(
        "--fail-on",
        action="append",
        choices=FAIL_ON,
        default=[],
        help="also exit 1 on these findings (repeatable)",
    )
    scan.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read the cookie declaration (and the site's own trackers) from the site's "
        "consentgate TOML file instead of its preference centre",
    )
    scan.add_argument(
        "--declaration",
        choices=("toml",),
        help="write a draft [[providers.cookies]] declaration of the undeclared cookies "
        "instead of the report",
    )
    scan.add_argument(
        "--browser",
        action="store_true",
        help="also visit in Chromium (Playwright), to see what scripts load and set",
    )
    scan.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="per request; default: 10",
    )
    scan.set_defaults(run=_run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


async def _run(args: argparse.Namespace) -> int:
    try:
        import httpx

        from .scan import Declaration, Scanner
        from .scan._declaration import read_site_config
        from .scan._output import declaration_toml, report_html, report_json, report_table
        from .scan._scanner import USER_AGENT
    except ImportError as exc:
        raise ScanUsageError(
            f"needs the scan extra: pip install 'consentgate[scan]' ({exc})"
        ) from exc
    declaration = None
    trackers: tuple[Any, ...] = ()
    if args.config is not None:
        config = read_site_config(args.config)
        declaration = Declaration.from_config(config, os.fspath(args.config))
        trackers = (*config.trackers, *(t for p in config.providers for t in p.trackers()))

    timeout = args.timeout

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout, headers={"user-agent": USER_AGENT})

    progress = _Progress() if sys.stderr.isatty() else None
    scanner = Scanner(
        client,
        args.url,
        max_pages=args.max_pages,
        honour_robots=not args.ignore_robots,
        declaration=declaration,
        trackers=trackers,
        progress=progress,
        browser=args.browser,
        timeout=timeout,
    )
    report = await scanner.scan()
    if progress is not None:
        progress.done()
    if args.declaration == "toml":
        text = declaration_toml(report)
    elif args.format == "json":
        text = json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
    elif args.format == "html":
        text = report_html(report)
    else:
        text = report_table(report)
    _write(text, args.output)
    fail_on = frozenset(args.fail_on)
    return EXIT_FAILED if report.failing(fail_on) else EXIT_OK


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScanUsageError(f"cannot write {os.fspath(output)!r}: {exc.strerror}") from exc
    print(f"report written to {os.fspath(output)}", file=sys.stderr)


class _Progress:
    """Which visitor is on which page, rewritten in place on stderr."""

    def __call__(self, visitor: Visitor, done: int, total: int) -> None:
        width = 20
        filled = round(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{visitor:>10} [{bar}] {done}/{total} pages ")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()
