"""What a browser loads from markup, read the way the HTML tokenizer reads start tags.

A reference for the blocker's tests, written from the tokenizer's states (WHATWG HTML
13.2.5: before/after attribute name, attribute name, before attribute value, the three
value states) rather than from patterns: quotes in names, an ``=`` that starts a name,
``/`` between attributes, the first attribute of a name winning. Comments, and the raw
text of ``script``, ``style``, ``textarea``, ``title`` and ``iframe``, are skipped;
``noscript`` content is read, as a browser without JavaScript reads it.
"""

from __future__ import annotations

import html

_SPACE = b"\t\n\f\r "
_RAW_TEXT = (b"script", b"style", b"textarea", b"title", b"iframe", b"xmp")
_JS_TYPES = ("", "text/javascript", "application/javascript", "module")


def start_tags(markup: bytes) -> list[tuple[bytes, dict[str, str | None]]]:
    """Each start tag's lowercase name and attributes (values with references decoded)."""
    tags: list[tuple[bytes, dict[str, str | None]]] = []
    size = len(markup)
    i = 0
    while (i := markup.find(b"<", i)) >= 0:
        if markup.startswith(b"<!--", i):
            end = markup.find(b"-->", i + 4)
            i = size if end < 0 else end + 3
            continue
        if not markup[i + 1 : i + 2].isalpha():
            i += 1
            continue
        j = i + 1
        while j < size and markup[j] not in b"\t\n\f\r />":
            j += 1
        name = markup[i + 1 : j].lower()
        attrs, end = _attributes(markup, j)
        if end < 0:  # the end of the input inside a tag: no tag
            break
        tags.append((name, attrs))
        i = end
        if name in _RAW_TEXT:
            lower = markup.lower()
            k = end
            while (k := lower.find(b"</" + name, k)) >= 0:
                after = lower[k + 2 + len(name) : k + 3 + len(name)]
                if after and after in b"\t\n\f\r />":
                    break
                k += 1
            i = size if k < 0 else k
    return tags


def _attributes(markup: bytes, j: int) -> tuple[dict[str, str | None], int]:
    """The attributes from ``j`` (after the tag name) and where the tag ends (-1: never)."""
    attrs: dict[str, str | None] = {}
    size = len(markup)
    state = "before_name"
    name = value = b""
    has_value = False

    def finish() -> None:
        key = name.lower().decode("latin-1")
        if key and key not in attrs:
            attrs[key] = html.unescape(value.decode("latin-1")) if has_value else None

    while j < size:
        c = markup[j : j + 1]
        if state == "before_name":
            if c in _SPACE:
                j += 1
            elif c == b"/":
                j += 1
            elif c == b">":
                return attrs, j + 1
            else:
                name, value, has_value = c, b"", False
                state = "name"
                j += 1
        elif state == "name":
            if c in _SPACE:
                state = "after_name"
            elif c == b"/":
                finish()
                state = "before_name"
            elif c == b">":
                finish()
                return attrs, j + 1
            elif c == b"=":
                state = "before_value"
            else:
                name += c
            j += 1
        elif state == "after_name":
            if c in _SPACE:
                j += 1
            elif c == b"/":
                finish()
                state = "before_name"
                j += 1
            elif c == b"=":
                state = "before_value"
                j += 1
            elif c == b">":
                finish()
                return attrs, j + 1
            else:
                finish()
                name, value, has_value = c, b"", False
                state = "name"
                j += 1
        elif state == "before_value":
            if c in _SPACE:
                j += 1
            elif c in (b'"', b"'"):
                end = markup.find(c, j + 1)
                if end < 0:
                    return attrs, -1
                value, has_value = markup[j + 1 : end], True
                finish()
                state = "after_quoted"
                j = end + 1
            elif c == b">":
                has_value = True
                finish()
                return attrs, j + 1
            else:
                value, has_value = c, True
                state = "unquoted"
                j += 1
        elif state == "unquoted":
            if c in _SPACE:
                finish()
                state = "before_name"
            elif c == b">":
                finish()
                return attrs, j + 1
            else:
                value += c
            j += 1
        else:  # after a quoted value
            if c in _SPACE or c == b"/":
                state = "before_name"
                j += 1
            elif c == b">":
                return attrs, j + 1
            else:
                state = "before_name"
    return attrs, -1


def loaded_urls(markup: bytes) -> list[str]:
    """The URLs a browser would fetch from ``markup``'s scripts, iframes, images and links."""
    urls: list[str] = []
    for name, attrs in start_tags(markup):
        if name == b"script":
            kind = (attrs.get("type") or "").strip().lower()
            if kind in _JS_TYPES and attrs.get("src"):
                urls.append(attrs["src"] or "")
        elif name in (b"iframe", b"img") and attrs.get("src"):
            urls.append(attrs["src"] or "")
        if name == b"img" and attrs.get("srcset"):
            urls += (attrs["srcset"] or "").replace(",", " ").split()
        elif name == b"link" and attrs.get("href"):
            urls.append(attrs["href"] or "")
    return urls
