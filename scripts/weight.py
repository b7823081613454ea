"""How much a visitor downloads to see and use the banner: ours against four other consent tools.

    .venv/bin/python scripts/weight.py      (or: npm run weight)

Sizes are gzip -9 (``gzip -9 < file | wc -c``), file by file, as a browser fetches them,
of the JS and CSS a visitor must load for the banner. Ours come from static/, minified as
the middleware serves them (rjsmin, rcssmin); the others
are fetched from the npm registry with ``npm pack`` (the published packages, exact
versions) into a temporary folder, and their dist files measured in the same run. Prints a
Markdown table and exits non-zero if ours is over the budget.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from consentgate._assets import minified

ROOT = Path(__file__).resolve().parents[1]
#: The issue's target for consentgate's JS + CSS, gzip -9 (1 KB = 1000 bytes, as for the others).
BUDGET = 4000
OURS = ("static/consentgate.js", "static/consentgate.css")


@dataclass(frozen=True)
class Anchor:
    title: str
    package: str
    version: str
    #: The dist files a site loads for the banner, inside the package folder.
    files: tuple[str, ...]


ANCHORS = (
    Anchor(
        "Osano cookieconsent",
        "cookieconsent",
        "3.1.1",
        ("build/cookieconsent.min.js", "build/cookieconsent.min.css"),
    ),
    Anchor(
        "vanilla-cookieconsent",
        "vanilla-cookieconsent",
        "3.1.0",
        ("dist/cookieconsent.umd.js", "dist/cookieconsent.css"),
    ),
    Anchor(
        "tarteaucitron",
        "tarteaucitronjs",
        "1.34.0",
        (
            "tarteaucitron.min.js",
            "tarteaucitron.services.min.js",
            "lang/tarteaucitron.en.min.js",
            "css/tarteaucitron.min.css",
        ),
    ),
    # Klaro's default bundle carries its CSS inside the JS.
    Anchor("Klaro", "klaro", "0.7.22", ("dist/klaro.js",)),
)


@dataclass(frozen=True)
class Weight:
    raw: int
    gzipped: int

    def __add__(self, other: Weight) -> Weight:
        return Weight(self.raw + other.raw, self.gzipped + other.gzipped)


def weigh(content: bytes) -> Weight:
    return Weight(len(content), len(gzip.compress(content, compresslevel=9, mtime=0)))


def ours() -> Weight:
    """What a visitor downloads: the files as the middleware serves them, minified."""
    total = Weight(0, 0)
    for name in OURS:
        total += weigh(minified(name, (ROOT / name).read_bytes()))
    return total


def anchor_weight(anchor: Anchor, folder: Path) -> Weight:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch the other tools: apt-get install npm")
    spec = f"{anchor.package}@{anchor.version}"
    result = subprocess.run(
        [npm, "pack", spec, "--silent", "--pack-destination", str(folder)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tarball = folder / result.stdout.strip().splitlines()[-1]
    total = Weight(0, 0)
    with tarfile.open(tarball) as archive:
        for name in anchor.files:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"{spec} has no file {name}")
            total += weigh(member.read())
    return total


def kb(size: int) -> str:
    return f"{size / 1000:.1f} KB"


def main() -> int:
    rows = [("**consentgate**", "consentgate.js + consentgate.css", ours())]
    with tempfile.TemporaryDirectory() as tmp:
        for anchor in ANCHORS:
            files = " + ".join(Path(name).name for name in anchor.files)
            rows.append(
                (f"{anchor.title} {anchor.version}", files, anchor_weight(anchor, Path(tmp)))
            )
    print("| consent tool | files | raw | gzip -9 |")
    print("|---|---|---:|---:|")
    for title, files, weight in rows:
        print(f"| {title} | {files} | {kb(weight.raw)} | {kb(weight.gzipped)} |")
    mine = rows[0][2].gzipped
    verdict = "within" if mine < BUDGET else "OVER"
    print(f"\nconsentgate: {mine} bytes gzip -9, {verdict} the budget of {BUDGET} bytes.")
    return 0 if mine < BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
