"""``python -m benchmarks inprocess``: each variant's ASGI app called directly, in a loop.

No server, no sockets, no wrk: the app is awaited with a prebuilt scope (what
uvicorn's httptools protocol builds for wrk's request) and a reusable
receive/send pair, in batches of about a millisecond. A scenario's figure is the
fastest batch of many (the minimum: what the code costs when nothing else on the
machine gets in its way), so it is stable on a shared 2-core machine where a live
run's throughput is not. The variants take turns batch by batch.

Beside the µs, the Python bytecode instructions a request executes, counted with
``sys.settrace`` (``f_trace_opcodes``), and the Python frames it enters: exact,
load-independent figures for the Python part of the cost (C work, like copying a
body or a regex search, does not show in them). Memory: ``tracemalloc`` over the
1 MB scenarios, the peak a request allocates and what a run of requests retains.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from starlette.types import ASGIApp, Message

from benchmarks import apps
from benchmarks.scenarios import (
    SCENARIOS,
    Headers,
    Scenario,
    Visitor,
    check_response,
    consent_cookie,
)
from benchmarks.targets import MEMORY_PEAK_MIB, Figures, Verdict, table

__all__ = [
    "Case",
    "Exchange",
    "call",
    "count_instructions",
    "main",
    "paired_ratio",
    "request_scope",
]

RESULTS = Path(__file__).resolve().parent / "results" / "inprocess.md"
VARIANTS = ("bare", "passthrough", "floor", "consentgate", "naive")
DEFAULT_VARIANTS = ("bare", "passthrough", "floor", "consentgate")
HOST = b"127.0.0.1:8000"
KIB = 1024
MIB = 1024 * KIB
#: What a run of requests may leave behind (caches warm already): a few small objects.
RETAINED_LIMIT = 16 * KIB

_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}
_DISCONNECT: Message = {"type": "http.disconnect"}


def request_scope(path: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> dict[str, Any]:
    """The scope uvicorn's httptools protocol gives an app for ``GET path`` from wrk."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "scheme": "http",
        "root_path": "",
        "headers": [(b"host", HOST), *headers],
        "state": {},
        "method": "GET",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
    }


class Exchange:
    """A server's side of one request, reusable: ``receive`` and ``send`` as uvicorn's.

    ``receive`` gives the (empty) request body once, then waits until the response
    is complete and says the client is gone, as uvicorn does, so an app listening
    for a disconnect (Starlette's StreamingResponse) behaves as it does live.
    ``send`` keeps the response when ``record`` is set (for the checks), and otherwise
    only notes that it is complete.
    """

    def __init__(self, record: bool = False) -> None:
        self.record = record
        self.reset()

    def reset(self) -> None:
        self.requested = False
        self.complete = False
        self.waiter: asyncio.Future[None] | None = None
        self.status = 0
        self.headers: Headers = {}
        self.body: list[bytes] = []

    async def receive(self) -> Message:
        if not self.requested:
            self.requested = True
            return _REQUEST
        if not self.complete:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return _DISCONNECT

    async def send(self, message: Message) -> None:
        if self.record:
            self._keep(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def _keep(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", ()):
                self.headers.setdefault(name.decode("latin-1").lower(), []).append(
                    value.decode("latin-1")
                )
        elif message["type"] == "http.response.body":
            self.body.append(bytes(message.get("body", b"")))


async def call(
    app: ASGIApp, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, Headers, bytes]:
    """One request through ``app``, the response recorded."""
    scope = request_scope(
        path, [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    )
    scope["method"] = method
    exchange = Exchange(record=True)
    if body is not None:
        request: Message = {"type": "http.request", "body": body, "more_body": False}
        exchange.requested = True

        async def receive() -> Message:
            nonlocal request
            message, request = request, _DISCONNECT
            return message

        await app(scope, receive, exchange.send)
    else:
        await app(scope, exchange.receive, exchange.send)
    return exchange.status, exchange.headers, b"".join(exchange.body)


@dataclass
class Case:
    """One scenario of one variant, ready to be timed."""

    variant: str
    app: ASGIApp
    scope: dict[str, Any]
    exchange: Exchange = field(default_factory=Exchange)
    batch: int = 1
    times: list[float] = field(default_factory=list)  # µs per request, one per batch

    async def run(self, n: int) -> int:
        """``n`` requests; the nanoseconds of CPU time they took (this thread's: time
        the process waited for a CPU another process had does not count)."""
        app, scope, exchange = self.app, self.scope, self.exchange
        clock = time.thread_time_ns
        started = clock()
        for _ in range(n):
            exchange.reset()
            await app(scope.copy(), exchange.receive, exchange.send)
        elapsed = clock() - started
        if not exchange.complete:
            raise SystemExit(f"{self.variant} {scope['path']}: the response did not complete")
        return elapsed


async def count_instructions(
    case: Case, by_function: Counter[CodeType] | None = None
) -> tuple[int, int]:
    """The Python bytecode instructions one request of ``case`` executes, and the frames
    it enters (calls, and resumptions of coroutines and generators), by ``sys.settrace``.
    With ``by_function``, each function's instructions are added up in it as well.

    CPython 3.13 delivers a code object's opcode events only from the run after a tracer
    first asked for them, so one traced request primes them and the next is counted."""
    instructions = frames = 0
    seen: Counter[CodeType] = Counter()

    def on_opcode(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal instructions
        if event == "opcode":
            instructions += 1
            seen[frame.f_code] += 1
        return on_opcode

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal frames
        frames += 1
        frame.f_trace_opcodes = True
        return on_opcode

    for _ in range(2):
        instructions = frames = 0
        seen.clear()
        case.exchange.reset()
        scope = case.scope.copy()
        sys.settrace(on_call)
        try:
            await case.app(scope, case.exchange.receive, case.exchange.send)
        finally:
            sys.settrace(None)
    if by_function is not None:
        by_function.update(seen)
    return instructions, frames


def where_lines(by_function: Counter[CodeType], limit: int = 25) -> list[str]:
    """The functions a request spends its Python instructions in, most first (Markdown)."""
    total = sum(by_function.values())
    out = [
        "| function | where | instructions | share |",
        "|---|---|---:|---:|",
    ]
    for code, count in by_function.most_common(limit):
        where = Path(code.co_filename)
        parts = where.parts
        for root in ("consentgate", "starlette", "fastapi", "benchmarks", "asyncio", "anyio"):
            if root in parts:
                where = Path(*parts[len(parts) - 1 - parts[::-1].index(root) :])
                break
        out.append(
            f"| `{code.co_qualname}` | {where}:{code.co_firstlineno} | {count:,} | "
            f"{count / total * 100:.1f} % |"
        )
    out.append(f"| (all {len(by_function)} functions) | | {total:,} | 100 % |")
    return out


@dataclass
class Memory:
    peak: int  # the most a request had allocated at once, above what was there before
    retained: int  # what a run of requests left allocated, after a collection


@dataclass
class Run:
    """One in-process run's measurements."""

    us: dict[tuple[str, str], float] = field(default_factory=dict)
    spread: dict[tuple[str, str], float] = field(default_factory=dict)
    #: (scenario, variant, reference) -> the median over the rounds of reference's batch
    #: time ÷ variant's in the same round: throughput relative to reference, paired.
    ratios: dict[tuple[str, str, str], float] = field(default_factory=dict)
    instructions: dict[tuple[str, str], int] = field(default_factory=dict)
    frames: dict[tuple[str, str], int] = field(default_factory=dict)
    memory: dict[tuple[str, str], Memory] = field(default_factory=dict)
    render_ms: float = 0.0
    #: scenario -> the functions consentgate's request spends its instructions in.
    where: dict[str, Counter[CodeType]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """µs, instructions and paired ratios, keyed ``scenario/variant[/reference]``:
        what ``--compare`` reads back."""
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "us": {f"{s}/{v}": us for (s, v), us in self.us.items()},
            "instructions": {f"{s}/{v}": n for (s, v), n in self.instructions.items()},
            "ratios": {f"{s}/{v}/{r}": x for (s, v, r), x in self.ratios.items()},
        }


def make_apps(variants: Sequence[str], workdir: Path) -> dict[str, ASGIApp]:
    os.environ[apps.STORE_ENV] = f"sqlite:///{workdir / 'consent-log.db'}"
    factories: dict[str, Callable[[], ASGIApp]] = {
        "bare": apps.bare,
        "passthrough": apps.passthrough,
        "floor": apps.floor,
        "consentgate": apps.consentgate,
        "naive": apps.naive,
    }
    return {variant: factories[variant]() for variant in variants}


async def close_logs(app: ASGIApp) -> None:
    """Close the consent log of a consentgate app (its writer thread)."""
    from consentgate import ConsentMiddleware

    layer: object = getattr(app, "middleware_stack", None)
    while layer is not None and not isinstance(layer, ConsentMiddleware):
        layer = getattr(layer, "app", None)
    if isinstance(layer, ConsentMiddleware):
        await layer.log.aclose()


def measure(
    runner: asyncio.Runner,
    scenarios: Sequence[Scenario],
    variant_apps: dict[str, ASGIApp],
    args: argparse.Namespace,
) -> Run:
    run = Run()
    cookies: dict[str, str] = {}

    def fetch(
        method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Headers, bytes]:
        return runner.run(call(variant_apps["consentgate"], method, path, body, headers))

    visitors: tuple[Visitor, ...] = ("consented", "refused")
    for visitor in visitors:
        cookies[visitor] = (
            consent_cookie(fetch, f"http://{HOST.decode()}", visitor)
            if "consentgate" in variant_apps
            else "consentgate=none"
        )
    best_render = min(_timed(apps.render_shop) for _ in range(50))
    run.render_ms = best_render * 1e3

    cases: dict[str, list[Case]] = {}
    for scenario in scenarios:
        cookie = cookies.get(scenario.visitor)
        headers = [(b"cookie", cookie.encode())] if cookie else []
        cases[scenario.name] = [
            Case(variant, app, request_scope(scenario.path, headers))
            for variant, app in variant_apps.items()
        ]
        for case in cases[scenario.name]:
            status, got, body = runner.run(
                call(case.app, "GET", scenario.path, None, {"cookie": cookie} if cookie else {})
            )
            problem = check_response(case.variant, scenario, status, got, body)
            if problem:
                raise SystemExit(f"{case.variant} {scenario.name}: {problem}")
            runner.run(case.run(args.warmup))
            case.batch = runner.run(_calibrate(case, args.batch_ms * 1e6))

    # Every scenario and variant takes its turn in every round, so the fastest batch
    # of each is picked from the whole run, not from one busy second of it; in an order
    # shuffled each round, and after a quarter batch of untimed requests, so no case
    # always follows one that left the caches cold (a 1 MB page, the Jinja2 render),
    # and a big code path (FastAPI's) is warm again when its batch starts.
    every_case = [case for scenario in scenarios for case in cases[scenario.name]]
    shuffle = random.Random(17).shuffle
    for repeat in range(args.repeats):
        shuffle(every_case)
        for case in every_case:
            runner.run(case.run(case.batch // 4 + 1))
            case.times.append(runner.run(case.run(case.batch)) / case.batch / 1e3)
        if (repeat + 1) % max(1, args.repeats // 10) == 0:
            print(f"round {repeat + 1} of {args.repeats}", file=sys.stderr, flush=True)

    for scenario in scenarios:
        for case in cases[scenario.name]:
            key = (scenario.name, case.variant)
            run.us[key] = min(case.times)
            # How far the fastest tenth of the batches lies from the fastest one.
            run.spread[key] = statistics.quantiles(case.times, n=10)[0] / min(case.times) - 1
            for reference in cases[scenario.name]:
                run.ratios[scenario.name, case.variant, reference.variant] = paired_ratio(
                    reference.times, case.times
                )
            counts = [runner.run(count_instructions(case)) for _ in range(3)]
            run.instructions[key] = int(statistics.median(c[0] for c in counts))
            run.frames[key] = int(statistics.median(c[1] for c in counts))
            if scenario.memory:
                run.memory[key] = runner.run(_memory(case, args.memory_requests))
            if scenario.name in args.where and case.variant == "consentgate":
                run.where[scenario.name] = Counter()
                runner.run(count_instructions(case, run.where[scenario.name]))
    return run


def paired_ratio(reference: Sequence[float], variant: Sequence[float]) -> float:
    """Throughput of a variant relative to a reference from their batch times, round by
    round: the median of reference ÷ variant. A slowdown of the machine that hits both
    in a round cancels out, where it would shift a ratio of two separate minimums."""
    return statistics.median(r / v for r, v in zip(reference, variant, strict=True))


def _timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


async def _calibrate(case: Case, batch_ns: float) -> int:
    """How many requests take about ``batch_ns``."""
    n = 1
    while True:
        elapsed = await case.run(n)
        if elapsed >= batch_ns or n >= 1 << 16:
            return max(1, round(n * batch_ns / max(elapsed, 1)))
        n *= 2


async def _memory(case: Case, requests: int) -> Memory:
    gc.collect()
    tracemalloc.start()
    try:
        await case.run(2)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await case.run(requests)
        peak = tracemalloc.get_traced_memory()[1] - before
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return Memory(peak, retained)


def render(run: Run, args: argparse.Namespace, scenarios: Sequence[Scenario]) -> str:
    from benchmarks.__main__ import machine_facts, source_fingerprint

    variants = list(args.variants)
    figures = Figures(run.us, lambda s, v, r: run.ratios.get((s, v, r), float("nan")))
    extra = []
    for variant in ("bare", "passthrough", "floor", "consentgate"):
        if variant in variants:
            extra.append(
                (
                    f"{variant} instr.",
                    lambda s, v=variant: f"{run.instructions[s.name, v]:,}",
                )
            )
    lines, verdicts = table(scenarios, variants, figures, "inprocess", extra)
    out = [
        "# consentgate benchmark, in-process",
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `python -m benchmarks inprocess {shlex.join(args.argv)}`",
        f"- Each figure: the fastest of {args.repeats} batches of ~{args.batch_ms:g} ms of "
        "this thread's CPU time (µs per request), every scenario and variant taking its "
        "turn in each round; the app awaited with uvicorn's scope for wrk's request, "
        "no server",
        f"- The Jinja2 page's render alone: {run.render_ms:.2f} ms (fastest of 50)",
    ]
    out += [f"- {key}: {value}" for key, value in machine_facts().items()]
    out += [f"- consentgate source digest: {source_fingerprint()}", ""]
    out += [
        "µs per request: the fastest batch. `cg ÷ x`: consentgate's throughput relative "
        "to x, paired: the median over the rounds of x's batch time ÷ consentgate's in the "
        "same round (steadier than a ratio of two minimums where a request is long); "
        "`instr.`: the Python bytecode instructions a request executes.",
        "",
        *lines,
        "",
        "Spread: how much slower the fastest tenth of the batches was than the fastest "
        "(a measure of the noise the minimum removes), per variant:",
        "",
        "| Scenario | " + " | ".join(variants) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(variants)) + "|",
    ]
    for scenario in scenarios:
        out.append(
            f"| {scenario.label} | "
            + " | ".join(f"{run.spread[scenario.name, v] * 100:.1f} %" for v in variants)
            + " |"
        )
    out += [
        "",
        "Python frames entered per request (calls and resumptions):",
        "",
        "| Scenario | " + " | ".join(variants) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(variants)) + "|",
    ]
    for scenario in scenarios:
        out.append(
            f"| {scenario.label} | "
            + " | ".join(f"{run.frames[scenario.name, v]:,}" for v in variants)
            + " |"
        )
    memory_scenarios = [s for s in scenarios if s.memory]
    if memory_scenarios:
        out += [
            "",
            f"Memory (tracemalloc, {args.memory_requests} requests after a warm-up): the peak "
            "a request allocates above what was allocated before, and what the run retains "
            "after a collection (KiB). Targets: peak within "
            f"{MEMORY_PEAK_MIB:g} MiB of the floor's; retained ≤ {RETAINED_LIMIT // KIB} KiB "
            "(no growth under load).",
            "",
            "| Scenario | "
            + " | ".join(f"{v} peak / retained" for v in variants)
            + " | target | met |",
            "|" + "|".join(["---"] + ["---:"] * len(variants) + ["---", "---"]) + "|",
        ]
        for scenario in memory_scenarios:
            row = [scenario.label]
            row += [
                f"{run.memory[scenario.name, v].peak / KIB:,.0f} / "
                f"{run.memory[scenario.name, v].retained / KIB:,.1f}"
                for v in variants
            ]
            verdict = memory_verdict(run, scenario)
            if verdict is None:
                row += ["–", ""]
            else:
                verdicts.append(verdict)
                row += [verdict.target, "met" if verdict.met else "**not met**"]
            out.append("| " + " | ".join(row) + " |")
    met = sum(v.met for v in verdicts)
    out += ["", f"Targets met: {met} of {len(verdicts)}."]
    for scenario in scenarios:
        if scenario.name in run.where:
            out += [
                "",
                f"## Where consentgate's instructions go: {scenario.label}",
                "",
                "One request, every function it runs Python instructions in (the app's "
                "and Starlette's too), most first:",
                "",
                *where_lines(run.where[scenario.name]),
            ]
    if args.compare is not None:
        earlier = json.loads(args.compare.read_text(encoding="utf-8"))
        out += [
            "",
            f"## Compared with the run of {earlier['date']} ({args.compare})",
            "",
            *comparison(run, earlier, scenarios, variants),
        ]
    return "\n".join(out) + "\n"


def comparison(
    run: Run, earlier: dict[str, Any], scenarios: Sequence[Scenario], variants: Sequence[str]
) -> list[str]:
    """Each figure next to an earlier run's: how far two runs of the same code agree, or
    what a change to the code did."""
    changes: list[float] = []
    out = [
        "| Scenario | "
        + " | ".join(f"{v} µs then → now" for v in variants)
        + " | instructions changed |",
        "|" + "|".join(["---"] + ["---:"] * (len(variants) + 1)) + "|",
    ]
    for scenario in scenarios:
        row = [scenario.label]
        moved: list[str] = []
        for variant in variants:
            key = f"{scenario.name}/{variant}"
            then = earlier["us"].get(key)
            now = run.us[scenario.name, variant]
            if then is None:
                row.append(f"– → {now:,.2f}")
                continue
            changes.append(now / then - 1)
            row.append(f"{then:,.2f} → {now:,.2f} ({(now / then - 1) * 100:+.1f} %)")
            before = earlier["instructions"].get(key)
            if before is not None and before != run.instructions[scenario.name, variant]:
                moved.append(f"{variant} {run.instructions[scenario.name, variant] - before:+,}")
        row.append(", ".join(moved) or "none")
        out.append("| " + " | ".join(row) + " |")
    if changes:
        absolute = sorted(abs(c) for c in changes)
        out += [
            "",
            f"Of {len(changes)} figures, the median moved {statistics.median(absolute) * 100:.1f} "
            f"%, the largest {absolute[-1] * 100:.1f} %; "
            f"{sum(a <= 0.02 for a in absolute)} moved 2 % or less.",
        ]
    return out


def memory_verdict(run: Run, scenario: Scenario) -> Verdict | None:
    cg, floor = (scenario.name, "consentgate"), (scenario.name, "floor")
    if cg not in run.memory or floor not in run.memory:
        return None
    over = (run.memory[cg].peak - run.memory[floor].peak) / MIB
    retained = run.memory[cg].retained
    return Verdict(
        f"peak ≤ floor + {MEMORY_PEAK_MIB:g} MiB, retained ≤ {RETAINED_LIMIT // KIB} KiB",
        f"{over:+.2f} MiB, {retained / KIB:.1f} KiB",
        over <= MEMORY_PEAK_MIB and retained <= RETAINED_LIMIT,
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks inprocess",
        description="Each variant's ASGI app called directly in a loop: µs and Python "
        "instructions per request, stable on a busy machine.",
    )
    parser.add_argument(
        "--repeats", type=int, default=300, help="batches per scenario and variant (300)"
    )
    parser.add_argument("--batch-ms", type=float, default=1.0, help="length of a batch (1 ms)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before timing (200)")
    parser.add_argument(
        "--memory-requests", type=int, default=200, help="requests in the memory pass (200)"
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=[s.name for s in SCENARIOS],
        default=[s.name for s in SCENARIOS],
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(DEFAULT_VARIANTS),
        help="bare is implied (default: bare passthrough floor consentgate)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        help=f"the report (default {RESULTS}); the figures go beside it as .json",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="JSON",
        help="an earlier run's .json: every figure beside it (stability, or a change's effect)",
    )
    parser.add_argument(
        "--where",
        nargs="+",
        default=[],
        choices=[s.name for s in SCENARIOS],
        metavar="SCENARIO",
        help="also list the functions consentgate's request runs its instructions in",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument(
        "--without-blocker",
        action="store_true",
        help="consentgate without the blocker of the app's own tracker markup",
    )
    args = parser.parse_args(argv)
    if args.without_blocker:
        os.environ[apps.WITHOUT_BLOCKER_ENV] = "1"
    if args.repeats < 10 or args.batch_ms <= 0 or args.warmup < 1 or args.memory_requests < 1:
        parser.error("--repeats must be at least 10, the others positive")
    args.variants = ["bare", *(v for v in VARIANTS if v != "bare" and v in args.variants)]
    args.argv = list(argv)
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    started = time.monotonic()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # the servers use uvloop; without it, asyncio's loop
        pass
    with (
        tempfile.TemporaryDirectory(prefix="consentgate-inprocess-") as tmp,
        asyncio.Runner(loop_factory=loop_factory) as runner,
    ):
        variant_apps = make_apps(args.variants, Path(tmp))
        try:
            run = measure(runner, scenarios, variant_apps, args)
        finally:
            for app in variant_apps.values():
                runner.run(close_logs(app))
    report = render(run, args, scenarios)
    report += f"\nTotal run time: {time.monotonic() - started:.0f} s.\n"
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    figures = args.output.with_suffix(".json")
    figures.write_text(json.dumps(run.to_json(), indent=1), encoding="utf-8")
    print(f"written to {args.output} and {figures}", file=sys.stderr)
    return 1 if args.check and "**not met**" in report else 0
