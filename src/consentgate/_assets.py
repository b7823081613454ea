"""The banner's CSS and JS, served from ``<prefix>/static/`` under content-hashed names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

__all__ = ["Asset", "Assets"]

_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    content: bytes
    media_type: str


def static_folder() -> Path:
    """The shipped ``consentgate/static``; in a source checkout, the repository's ``static/``.

    The wheel maps the top-level ``static/`` into the package; an editable
    install imports from ``src/`` and so finds it two levels up instead.
    """
    packaged = Path(str(files("consentgate") / "static"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "static"


class Assets:
    """Reads every asset once at start-up; ``url(name)`` carries its content hash."""

    def __init__(self, prefix: str, folder: Path | None = None) -> None:
        folder = folder or static_folder()
        self._by_path: dict[str, Asset] = {}
        self._urls: dict[str, str] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix not in _MEDIA_TYPES:
                continue
            content = path.read_bytes()
            digest = hashlib.sha256(content).hexdigest()[:12]
            hashed = f"{path.stem}.{digest}{path.suffix}"
            self._by_path[hashed] = Asset(content, _MEDIA_TYPES[path.suffix])
            self._urls[path.name] = f"{prefix}/static/{hashed}"

    def url(self, name: str) -> str:
        return self._urls[name]

    def get(self, hashed_name: str) -> Asset | None:
        return self._by_path.get(hashed_name)
