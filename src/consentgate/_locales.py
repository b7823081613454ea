"""The built-in texts: one TOML file per language in ``consentgate/locales``."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["Texts", "available_languages", "builtin_texts"]

#: Flattened texts of one language: ``{"banner.title": "...", ...}``.
Texts = Mapping[str, str]


@cache
def available_languages() -> tuple[str, ...]:
    """Language codes that have a built-in text file, sorted."""
    folder = files("consentgate") / "locales"
    return tuple(
        sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    )


@cache
def builtin_texts(language: str) -> Texts:
    source = (files("consentgate") / "locales" / f"{language}.toml").read_text(encoding="utf-8")
    return _flatten(tomllib.loads(source))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat
