"""The benchmark's own instruments: the in-process driver, the response checks and the
targets. A figure is only worth what these are, so they are tested like the library."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import CodeType

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks import apps
from benchmarks.inprocess import (
    Case,
    call,
    close_logs,
    count_instructions,
    make_apps,
    where_lines,
)
from benchmarks.scenarios import (
    SCENARIOS,
    Fetch,
    Headers,
    Scenario,
    check_response,
    consent_cookie,
    keeps_page,
)
from benchmarks.targets import Figures, Mode, Verdict, judge

BY_NAME = {s.name: s for s in SCENARIOS}


@pytest.fixture(scope="module")
def variant_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ASGIApp]]:
    made = make_apps(
        ("bare", "passthrough", "floor", "consentgate", "naive"),
        Path(tmp_path_factory.mktemp("bench")),
    )
    yield made
    asyncio.run(close_logs(made["consentgate"]))


def fetch_from(app: ASGIApp) -> Fetch:
    def fetch(
        method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Headers, bytes]:
        return asyncio.run(call(app, method, path, body, headers))

    return fetch


def test_every_variant_answers_every_scenario_as_its_check_requires(
    variant_apps: dict[str, ASGIApp],
) -> None:
    fetch = fetch_from(variant_apps["consentgate"])
    cookies = {
        "consented": consent_cookie(fetch, "http://127.0.0.1:8000", "consented"),
        "refused": consent_cookie(fetch, "http://127.0.0.1:8000", "refused"),
    }
    for scenario in SCENARIOS:
        cookie = cookies.get(scenario.visitor)
        for variant, app in variant_apps.items():
            status, headers, body = asyncio.run(
                call(app, "GET", scenario.path, None, {"cookie": cookie} if cookie else {})
            )
            assert check_response(variant, scenario, status, headers, body) is None, (
                variant,
                scenario.name,
            )


def test_the_checks_catch_a_page_without_banner_or_with_foreign_nonces(
    variant_apps: dict[str, ASGIApp],
) -> None:
    page, csp = BY_NAME["page"], BY_NAME["page-csp"]
    # consentgate's answer must carry the banner: bare's page is not enough.
    status, headers, body = asyncio.run(call(variant_apps["bare"], "GET", "/page", None, {}))
    assert check_response("consentgate", page, status, headers, body) is not None
    # bare's answer must be untouched: consentgate's page is not bare's.
    status, headers, body = asyncio.run(call(variant_apps["consentgate"], "GET", "/page", None, {}))
    assert check_response("bare", page, status, headers, body) is not None
    # Every nonce on the CSP page is the response's own.
    status, headers, body = asyncio.run(
        call(variant_apps["consentgate"], "GET", "/page-csp", None, {})
    )
    assert check_response("consentgate", csp, status, headers, body) is None
    # The last nonce is on one of consentgate's elements (the page's own comes first).
    *_, last = re.finditer(rb'nonce="([^"]+)"', body)
    forged = body[: last.start(1)] + b"someone-elses" + body[last.end(1) :]
    assert check_response("consentgate", csp, status, headers, forged) is not None


@pytest.mark.parametrize("where", [0, 100, 20_000, len(apps.PAGE) - 20])
def test_keeps_page_allows_insertions_only(where: int) -> None:
    head_end, body_end = apps.PAGE.find(b"</head>"), apps.PAGE.rfind(b"</body>")
    inserted = apps.PAGE[:head_end] + b"<x>" + apps.PAGE[head_end:body_end] + b"<y>"
    inserted += apps.PAGE[body_end:]
    assert keeps_page(apps.PAGE, inserted)
    changed = bytearray(inserted)
    changed[where] ^= 0x20
    assert not keeps_page(apps.PAGE, bytes(changed))


def test_the_stream_scenario_completes_in_process_through_the_disconnect_listener(
    variant_apps: dict[str, ASGIApp],
) -> None:
    """Starlette streams with a task group that waits for the client to leave; the
    driver's receive must say so once the response is complete, or a run would hang."""
    from benchmarks.inprocess import request_scope

    case = Case("floor", variant_apps["floor"], request_scope("/stream"))
    elapsed = asyncio.run(asyncio.wait_for(case.run(3), timeout=10))
    assert elapsed > 0 and case.exchange.complete


def test_instructions_are_counted_exactly_and_grow_with_the_work_done() -> None:
    def app_doing(loops: int) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            total = 0
            for i in range(loops):
                total += i
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"%d" % total})

        return app

    def counted(loops: int) -> tuple[int, int]:
        case = Case("bare", app_doing(loops), {"type": "http", "path": "/"})
        return asyncio.run(count_instructions(case))

    small, again, big = counted(10), counted(10), counted(110)
    assert small == again
    # Each loop runs the same few instructions; the frames entered stay the same.
    assert big[0] > small[0] + 100 * 3 and big[1] == small[1]
    # Counted by function, the loop's instructions are the app's own, and all add up.
    by_function: Counter[CodeType] = Counter()
    case = Case("bare", app_doing(110), {"type": "http", "path": "/"})
    total, _ = asyncio.run(count_instructions(case, by_function))
    (top, count), *_ = by_function.most_common()
    assert top.co_name == "app" and count > 100 * 3 and sum(by_function.values()) == total
    assert where_lines(by_function)[2].startswith("| `test_instructions_are_counted")


def figures(us: dict[tuple[str, str], float]) -> Figures:
    return Figures(us, lambda s, v, r: us[s, r] / us[s, v])


def verdict_of(scenario: Scenario, us: dict[tuple[str, str], float], mode: Mode) -> Verdict:
    verdict = judge(scenario, figures(us), mode)
    assert verdict is not None
    return verdict


def test_the_in_process_targets_are_judged_at_their_limits() -> None:
    json_, stream, api = BY_NAME["json"], BY_NAME["stream"], BY_NAME["api"]
    at_limit = {("json", "passthrough"): 10.0, ("json", "consentgate"): 11.0}
    assert verdict_of(json_, at_limit, "inprocess").met
    over = {("json", "passthrough"): 10.0, ("json", "consentgate"): 11.01}
    assert not verdict_of(json_, over, "inprocess").met
    # 1 MB in 100 chunks: floor + 0.15 µs a chunk.
    chunked = verdict_of(
        stream, {("stream", "floor"): 300.0, ("stream", "consentgate"): 316.0}, "inprocess"
    )
    assert not chunked.met and chunked.measured == "+0.16 µs a chunk"
    # The FastAPI row is a ratio to bare, in both modes.
    api_us = {("api", "bare"): 96.0, ("api", "consentgate"): 100.0}
    assert verdict_of(api, api_us, "inprocess").met and verdict_of(api, api_us, "live").met
    api_us["api", "consentgate"] = 100.1
    assert not verdict_of(api, api_us, "inprocess").met


def test_the_nonce_target_takes_out_what_the_app_itself_adds() -> None:
    """The CSP page costs the app a nonce and a copy; only consentgate's extra counts."""
    csp = BY_NAME["page-csp"]
    us = {
        ("page", "bare"): 10.0,
        ("page", "consentgate"): 16.0,
        ("page-csp", "bare"): 14.0,  # the app's own nonce: +4 µs, not consentgate's
        ("page-csp", "consentgate"): 20.9,
    }
    verdict = verdict_of(csp, us, "inprocess")
    assert verdict.met and verdict.measured == "+0.90 µs"
    us["page-csp", "consentgate"] = 21.1
    assert not verdict_of(csp, us, "inprocess").met


def test_a_scenario_without_its_reference_variant_is_not_judged() -> None:
    page = BY_NAME["page"]
    only_bare = figures({("page", "bare"): 10.0, ("page", "consentgate"): 12.0})
    assert judge(page, only_bare, "inprocess") is None
    assert judge(Scenario("x", "x", "/x"), only_bare, "live") is None


def test_a_run_compared_with_its_own_figures_read_back_moved_nowhere() -> None:
    from benchmarks.inprocess import Run, comparison

    page = BY_NAME["page"]
    run = Run(
        us={("page", "bare"): 9.0, ("page", "consentgate"): 16.5},
        instructions={("page", "bare"): 941, ("page", "consentgate"): 1690},
    )
    earlier = json.loads(json.dumps(run.to_json()))
    lines = comparison(run, earlier, [page], ["bare", "consentgate"])
    assert "16.50 → 16.50 (+0.0 %)" in lines[2] and lines[2].endswith("| none |")
    assert lines[-1].startswith("Of 2 figures, the median moved 0.0 %")
    # A change to the code shows in µs and in instructions.
    run.us["page", "consentgate"] = 15.0
    run.instructions["page", "consentgate"] = 1600
    lines = comparison(run, earlier, [page], ["bare", "consentgate"])
    assert "16.50 → 15.00 (-9.1 %)" in lines[2] and "consentgate -90" in lines[2]


def test_a_paired_ratio_cancels_what_slows_both_variants_in_a_round() -> None:
    from benchmarks.inprocess import paired_ratio

    # The machine slows every other round by 30 %; consentgate is always 5 % slower.
    slowdown = [1.0, 1.3] * 50
    bare = [10.0 * s for s in slowdown]
    consentgate = [10.5 * s for s in slowdown]
    assert paired_ratio(bare, consentgate) == pytest.approx(1 / 1.05)
    # One disturbed round moves the median of the pairs not at all.
    consentgate[7] *= 2
    assert paired_ratio(bare, consentgate) == pytest.approx(1 / 1.05)


def test_a_live_report_renders_every_scenario_and_judges_it() -> None:
    """The report comes at the end of a 25-minute run: it must not be where it fails."""
    from benchmarks.__main__ import MIB, VARIANTS, Memory, Results, parse_args, render

    results = Results(idle_rss={v: 50 * MIB for v in VARIANTS})
    # Two rounds; consentgate 3 % slower than the floor everywhere, 10 µs of CPU more.
    speed = {"bare": 1.0, "passthrough": 0.99, "floor": 0.95, "consentgate": 0.95 * 0.97}
    speed["naive"] = 0.2
    for scenario in SCENARIOS:
        for variant in VARIANTS:
            key = (scenario.name, variant)
            results.rps[key] = [1000 * speed[variant], 900 * speed[variant]]
            results.cpu_us[key] = [50 / speed[variant]] * 2
            if scenario.memory:
                # consentgate starts 2 MiB bigger (templates) and peaks 3 MiB over bare.
                idle = 2 * MIB if variant == "consentgate" else 0
                extra = {"consentgate": 3 * MIB, "floor": 1 * MIB}.get(variant, 0)
                results.memory[key] = [Memory(50 * MIB + idle, 52 * MIB + extra, "test")] * 2
    report = render(results, parse_args([]), VARIANTS, pinned=True)
    for scenario in SCENARIOS:
        assert f"| {scenario.label} |" in report
    json_row = next(line for line in report.splitlines() if line.startswith("| JSON (small)"))
    assert "≥ 0.99 of the floor | 0.970 | **not met** |" in json_row
    stream_row = next(
        line for line in report.splitlines() if "| 1 MB HTML, 100 chunks | 52.0" in line
    )
    # 2 MiB over the floor's peak (at the line), and the load grew it no more than the floor.
    assert "+2.0 / +0.0 MiB | met |" in stream_row
    assert "Targets met: " in report


def test_a_process_cpu_time_is_read_from_proc() -> None:
    import os
    import time

    from benchmarks.__main__ import cpu_seconds

    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.03
