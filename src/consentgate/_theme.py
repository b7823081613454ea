"""Theme: the banner's colours, font, corner radius and position, checked and turned into CSS.

A theme becomes one small stylesheet, built once at start-up and served next
to ``consentgate.css``, that sets the ``--cg-*`` custom properties that
stylesheet reads. Every value ends up inside CSS, so each is checked against a
strict grammar: nothing that could close a declaration or a rule (``;``,
``}``), open markup (``<``) or load anything (``url(``) gets through.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from ._exceptions import ConfigurationError

__all__ = ["COLOR_NAMES", "DARK_COLORS", "LIGHT_COLORS", "Position", "Theme", "theme_css"]

Position = Literal["bar", "box", "dialog"]
POSITIONS: tuple[str, ...] = get_args(Position)

#: The colour roles a theme sets, and the custom property each becomes.
COLOR_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "background": "--cg-bg",
        "text": "--cg-fg",
        "muted": "--cg-muted",
        "accent": "--cg-accent",
        "accent_text": "--cg-accent-fg",
        "border": "--cg-border",
    }
)

#: consentgate.css's own palettes. A theme states every colour for both schemes,
#: so the roles a site leaves out keep these (a theme stylesheet that set only
#: the site's light accent would otherwise also win in dark mode).
LIGHT_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "background": "#ffffff",
        "text": "#1b1b1f",
        "muted": "#4a4a55",
        "accent": "#1d4ed8",
        "accent_text": "#ffffff",
        "border": "#c9c9d2",
    }
)
DARK_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "background": "#1e1f24",
        "text": "#f1f1f4",
        "muted": "#c4c4cf",
        "accent": "#9cb8ff",
        "accent_text": "#10131a",
        "border": "#4a4b55",
    }
)

#: The CSS named colours (CSS Color Module Level 4), plus ``transparent``.
COLOR_NAMES = frozenset(
    """
    aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue
    blueviolet brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk
    crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki
    darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen
    darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue
    dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro ghostwhite
    gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo ivory khaki
    lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen
    lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen
    magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen
    mediumslateblue mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream
    mistyrose moccasin navajowhite navy oldlace olive olivedrab orange orangered orchid
    palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum
    powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown
    seagreen seashell sienna silver skyblue slateblue slategray slategrey snow springgreen
    steelblue tan teal thistle tomato turquoise violet wheat white whitesmoke yellow
    yellowgreen transparent
    """.split()
)

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_FUNCTION = re.compile(r"(rgba?|hsla?)\(([^()]*)\)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:%|deg|grad|rad|turn)?|none")
_LENGTH = re.compile(r"0|(?:\d+(?:\.\d+)?|\.\d+)(?:px|rem|em|%)")
# One family: a quoted name, or unquoted words (CSS identifiers) separated by spaces.
_FAMILY = re.compile(r'"[\w .-]+"|\'[\w .-]+\'|-?[^\W\d][\w-]*(?: +-?[^\W\d][\w-]*)*')
_MAX_FONT = 300


@dataclass(frozen=True, kw_only=True)
class Theme:
    """How the banner and the preference centre look.

    Colours are CSS hex (``#1d4ed8``), ``rgb()``/``rgba()``, ``hsl()``/``hsla()``
    or a named colour; a colour left out keeps consentgate's default. ``dark``
    gives the colours for visitors whose system asks for a dark scheme, with the
    same names (``{"accent": "#fdba74"}``); a dark colour left out keeps
    consentgate's dark default. ``dark_mode=False`` shows the light colours to
    everyone.

    .. versionadded:: 0.1
    """

    background: str | None = None
    text: str | None = None
    #: Secondary text, such as "(always on)".
    muted: str | None = None
    #: Links, focus rings and the buttons' background.
    accent: str | None = None
    #: Text on the accent colour (the buttons' labels).
    accent_text: str | None = None
    border: str | None = None
    dark: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Follow the visitor's ``prefers-color-scheme``.
    dark_mode: bool = True
    #: A CSS font-family list, e.g. ``'"Source Sans 3", system-ui, sans-serif'``.
    font: str | None = None
    #: Corner radius of the banner, buttons and links: ``"6px"``, ``"0.5rem"``, ``0``.
    radius: str | int | None = None
    #: ``False`` draws the banner without a drop shadow.
    shadow: bool = True
    #: ``bar`` along the bottom, ``box`` in a corner, ``dialog`` in the middle.
    position: Position = "bar"

    def __post_init__(self) -> None:
        if isinstance(self.dark, Mapping):
            object.__setattr__(self, "dark", MappingProxyType(dict(self.dark)))

    def validate(self, where: str) -> None:
        """Raise ConfigurationError, naming ``where.<field>``, for any unsafe or unknown value."""
        for role in COLOR_PROPERTIES:
            value = getattr(self, role)
            if value is not None:
                _check_color(f"{where}.{role}", value)
        if not isinstance(self.dark, Mapping):
            raise ConfigurationError(f"{where}.dark", "must be a table of colours")
        for role, value in self.dark.items():
            if role not in COLOR_PROPERTIES:
                raise ConfigurationError(
                    f"{where}.dark.{role}",
                    f"is not a colour of the theme; use {', '.join(COLOR_PROPERTIES)}",
                )
            _check_color(f"{where}.dark.{role}", value)
        if self.font is not None:
            _check_font(f"{where}.font", self.font)
        if self.radius is not None:
            _check_radius(f"{where}.radius", self.radius)
        for name in ("dark_mode", "shadow"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{where}.{name}", "must be true or false")
        if self.position not in POSITIONS:
            raise ConfigurationError(
                f"{where}.position",
                f"expected one of {', '.join(POSITIONS)}, got {self.position!r}",
            )
        if self.dark and not self.dark_mode:
            raise ConfigurationError(
                f"{where}.dark", "has no effect with dark_mode off; remove one of them"
            )
        _check_contrast(where, self.colors(), LIGHT_COLORS)
        if self.dark_mode:
            _check_contrast(f"{where}.dark", self.dark_colors(), DARK_COLORS)

    def colors(self) -> dict[str, str]:
        """The light colours, consentgate's default where the theme gives none."""
        return {role: getattr(self, role) or default for role, default in LIGHT_COLORS.items()}

    def dark_colors(self) -> dict[str, str]:
        return {**DARK_COLORS, **self.dark}


def theme_css(theme: Theme) -> str:
    """The stylesheet a theme becomes; it is linked after consentgate.css, so it wins."""
    light = {COLOR_PROPERTIES[role]: value for role, value in theme.colors().items()}
    if theme.font is not None:
        light["--cg-font"] = theme.font.strip()
    if theme.radius is not None:
        light["--cg-radius"] = _radius(theme.radius)
    if not theme.shadow:
        light["--cg-shadow"] = "none"
    if not theme.dark_mode:
        # Light colours for everyone, so form controls are drawn for a light scheme too.
        light["--cg-scheme"] = "light"
    # The same zero-specificity selectors as consentgate.css: linked after it, the theme
    # wins over its defaults, a site's own :root rules win over both, and a page's
    # data-cg-theme="light|dark" still picks the scheme.
    out = [
        "/* consentgate theme, generated from the site's configuration */\n",
        _rule(":where(:root)", light),
    ]
    if theme.dark_mode:
        dark = {COLOR_PROPERTIES[role]: value for role, value in theme.dark_colors().items()}
        out.append(
            "@media (prefers-color-scheme: dark) {\n"
            + _rule(":where(:root:not([data-cg-theme=light]))", dark)
            + "}\n"
        )
        out.append(_rule(":where(:root[data-cg-theme=dark])", dark))
    return "".join(out)


def _rule(selector: str, properties: Mapping[str, str]) -> str:
    body = "".join(f"  {name}: {value};\n" for name, value in properties.items())
    return selector + " {\n" + body + "}\n"


def _radius(value: str | int) -> str:
    return f"{value}px" if isinstance(value, int) and value else str(value)


#: Text and what it is read on: WCAG 2.2 AA asks 4.5:1 of normal-size text.
_READ_ON = (
    ("text", "background"),
    ("muted", "background"),
    ("accent", "background"),
    ("accent_text", "accent"),
)
MIN_CONTRAST = 4.5


def _check_contrast(where: str, colors: Mapping[str, str], defaults: Mapping[str, str]) -> None:
    """Refuse a theme whose text cannot be read (WCAG 2.2 AA, 1.4.3).

    Only opaque hex, rgb() and hsl() colours are measured; a named or
    translucent colour is taken on trust.
    """
    for fore, back in _READ_ON:
        fg, bg = _luminance(colors[fore]), _luminance(colors[back])
        if fg is None or bg is None:
            continue
        ratio = (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)
        if ratio < MIN_CONTRAST:
            # Name the colour the site chose: the other one may be a default.
            blamed = fore if colors[fore] != defaults[fore] else back
            raise ConfigurationError(
                f"{where}.{blamed}",
                f"{fore} {colors[fore]} on {back} {colors[back]} has a contrast of "
                f"{ratio:.2f}:1; WCAG 2.2 AA needs at least {MIN_CONTRAST}:1 for text",
            )


def _luminance(value: str) -> float | None:
    """WCAG relative luminance of an opaque colour, or None when it cannot be told."""
    rgb = _rgb(value)
    if rgb is None:
        return None
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _rgb(value: str) -> tuple[float, float, float] | None:
    if _HEX.fullmatch(value):
        digits = value[1:]
        if len(digits) in (3, 4):
            digits = "".join(d * 2 for d in digits)
        if len(digits) == 8 and digits[6:].lower() != "ff":
            return None
        r, g, b = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
        return r, g, b
    match = _FUNCTION.fullmatch(value)
    if match is None:
        return None
    parts = [p for p in re.split(r"[ ,/]+", match[2].strip(" ")) if p]
    if len(parts) == 4 or "none" in parts or any(p.endswith(("rad", "turn")) for p in parts):
        return None
    if match[1].startswith("rgb"):
        channels = [float(p[:-1]) / 100 if p.endswith("%") else float(p) / 255 for p in parts]
        r, g, b = (min(max(c, 0.0), 1.0) for c in channels)
        return r, g, b
    hue = float(parts[0].removesuffix("deg").removesuffix("grad")) / 360
    if parts[0].endswith("grad"):
        hue = hue * 360 / 400
    if not (parts[1].endswith("%") and parts[2].endswith("%")):
        return None
    sat, light = (min(max(float(p[:-1]) / 100, 0.0), 1.0) for p in parts[1:3])
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, light, sat)
    return r, g, b


def _check_color(where: str, value: object) -> None:
    if not isinstance(value, str):
        raise ConfigurationError(where, f"expected a CSS colour as a string, got {value!r}")
    if _HEX.fullmatch(value) or value.lower() in COLOR_NAMES:
        return
    match = _FUNCTION.fullmatch(value)
    if match is not None:
        parts = [p for p in re.split(r"[ ,/]+", match[2].strip(" ")) if p]
        if 3 <= len(parts) <= 4 and all(_NUMBER.fullmatch(p) for p in parts):
            return
    raise ConfigurationError(
        where,
        f"{value!r} is not a colour consentgate accepts: use #rgb, #rrggbb, #rrggbbaa, "
        "rgb(…), rgba(…), hsl(…), hsla(…) with numbers only, or a CSS colour name",
    )


def _check_font(where: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(where, "expected a CSS font-family list as a string")
    families = value.split(",")
    if len(value) > _MAX_FONT or not all(_FAMILY.fullmatch(f.strip(" ")) for f in families):
        raise ConfigurationError(
            where,
            f"{value!r} is not a font-family list consentgate accepts: comma-separated names, "
            'quoted ("Source Sans 3") or plain (system-ui, sans-serif), letters, digits, '
            "spaces, '.', '-' and '_' only",
        )


def _check_radius(where: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigurationError(where, f"expected a CSS length like '6px', got {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 100:
            raise ConfigurationError(where, f"{value} is not a radius in pixels from 0 to 100")
        return
    if _LENGTH.fullmatch(value) is None:
        raise ConfigurationError(
            where,
            f"{value!r} is not a length consentgate accepts: 0, or a number with px, rem, em or %",
        )
