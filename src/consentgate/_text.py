"""Texts that may be given once or per language."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FALLBACK_LANGUAGE", "LocalizedText", "localized"]

#: A plain string (same in every language) or a mapping of language code to text.
LocalizedText = str | Mapping[str, str]

#: Used when a text has no version in the visitor's language.
FALLBACK_LANGUAGE = "en"


def localized(text: LocalizedText, language: str) -> str:
    """The text in ``language``, else in English, else in any language given."""
    if isinstance(text, str):
        return text
    if language in text:
        return text[language]
    if FALLBACK_LANGUAGE in text:
        return text[FALLBACK_LANGUAGE]
    return next(iter(text.values()), "")
