"""Issue 17's performance targets, judged on a run's figures, and the one table every run prints.

A target compares consentgate with the variant that bounds it: the passthrough (a
middleware that only wraps ``send``) for responses it must merely see, the floor
(the least any banner injector does) for pages, bare for pages whose app does real
work. Live runs judge throughput ratios; the in-process mode judges µs, which it
measures to a fraction of a µs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from benchmarks.scenarios import Scenario

__all__ = ["MEMORY_PEAK_MIB", "Figures", "Mode", "Verdict", "judge", "table"]

Mode = Literal["live", "inprocess"]
#: A consentgate process's (or request's) peak may exceed the floor's by this much.
MEMORY_PEAK_MIB = 2.0
#: The JSON and CSS rows, the 30 KB pages and the 1 MB pages, by scenario name.
NON_HTML = ("json", "css")
PAGES = ("page", "page-consented", "page-refused")
BIG = ("big", "stream")
#: Pages judged by what consentgate adds beyond what it adds to the plain 30 KB page.
#: Today's code does nothing with ordinary tags, so the plain page is "the same page
#: today" the issue measures a blocker of tracker markup against.
SAME_PAGE = {"page-csp": (1.0, "without a nonce"), "page-tags": (2.0, "without tags")}
#: Pages whose app does real work: consentgate's throughput relative to bare.
BARE_RATIO = {"rendered": 0.97, "api": 0.96}


@dataclass(frozen=True)
class Figures:
    """One run's figures: µs per request per (scenario, variant), and throughput ratios."""

    us: dict[tuple[str, str], float]
    #: Throughput of (scenario, variant) relative to (scenario, reference): ``ratio(s, v, r)``.
    ratio: Callable[[str, str, str], float]

    def has(self, scenario: str, *variants: str) -> bool:
        return all((scenario, v) in self.us for v in variants)


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool


def judge(scenario: Scenario, figures: Figures, mode: Mode) -> Verdict | None:
    """The issue's target for ``scenario`` on these figures; None when it has none here
    (or the variants it compares with were not run)."""
    name, us = scenario.name, figures.us
    cg = "consentgate"
    if name in BARE_RATIO and figures.has(name, "bare", cg):
        limit = BARE_RATIO[name]
        ratio = figures.ratio(name, cg, "bare")
        return Verdict(f"≥ {limit:.2f}× bare", f"{ratio:.3f}×", ratio >= limit)
    if name in SAME_PAGE:
        limit, without = SAME_PAGE[name]
        if not (figures.has(name, "bare", cg) and figures.has("page", "bare", cg)):
            return None
        # What consentgate adds to this page beyond what it adds to the plain one: the
        # apps' own difference (a nonce made, more markup) is taken out.
        extra = (us[name, cg] - us[name, "bare"]) - (us["page", cg] - us["page", "bare"])
        return Verdict(
            f"≤ +{limit:g} µs over the page {without}", f"{extra:+.2f} µs", extra <= limit
        )
    if mode == "live":
        of_floor = 0.99 if name in NON_HTML else 0.95 if name in PAGES + BIG else None
        if of_floor is None or not figures.has(name, "floor", cg):
            return None
        ratio = figures.ratio(name, cg, "floor")
        return Verdict(f"≥ {of_floor:.2f} of the floor", f"{ratio:.3f}", ratio >= of_floor)
    if name in NON_HTML and figures.has(name, "passthrough", cg):
        extra = us[name, cg] - us[name, "passthrough"]
        return Verdict("≤ passthrough + 1 µs", f"{extra:+.2f} µs", extra <= 1.0)
    if name in PAGES and figures.has(name, "floor", cg):
        extra = us[name, cg] - us[name, "floor"]
        return Verdict("≤ floor + 1.5 µs", f"{extra:+.2f} µs", extra <= 1.5)
    if name in BIG and figures.has(name, "floor", cg):
        per_chunk = (us[name, cg] - us[name, "floor"]) / scenario.chunks
        return Verdict(
            f"≤ floor + 0.15 µs a chunk ({scenario.chunks})",
            f"{per_chunk:+.2f} µs a chunk",
            per_chunk <= 0.15,
        )
    return None


def table(
    scenarios: Sequence[Scenario],
    variants: Sequence[str],
    figures: Figures,
    mode: Mode,
    extra_columns: Sequence[tuple[str, Callable[[Scenario], str]]] = (),
) -> tuple[list[str], list[Verdict]]:
    """The run's table (Markdown lines): µs per request of every variant, consentgate's
    throughput relative to bare, passthrough and floor, and its target, met or not."""
    references = [v for v in ("bare", "passthrough", "floor") if v in variants]
    header = ["Scenario", *(f"{v} µs" for v in variants)]
    if "consentgate" in variants:
        header += [f"cg ÷ {r}" for r in references]
    header += [name for name, _ in extra_columns]
    header += ["target (consentgate)", "measured", "met"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 4) + ["---", "---:", "---"]) + "|",
    ]
    verdicts: list[Verdict] = []
    for scenario in scenarios:
        row = [scenario.label]
        row += [
            f"{figures.us[scenario.name, v]:,.2f}" if (scenario.name, v) in figures.us else "–"
            for v in variants
        ]
        if "consentgate" in variants:
            row += [f"{figures.ratio(scenario.name, 'consentgate', r):.3f}" for r in references]
        row += [cell(scenario) for _, cell in extra_columns]
        verdict = judge(scenario, figures, mode)
        if verdict is None:
            row += ["–", "", ""]
        else:
            verdicts.append(verdict)
            row += [verdict.target, verdict.measured, "met" if verdict.met else "**not met**"]
        lines.append("| " + " | ".join(row) + " |")
    return lines, verdicts
