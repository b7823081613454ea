"""``python -m benchmarks``: consentgate's cost next to the bare app, the floor and a naive
middleware, under uvicorn and wrk.

(``python -m benchmarks inprocess`` calls the apps directly instead:
``benchmarks/inprocess.py``; ``python -m benchmarks log`` runs the consent log's
suites: ``benchmarks/log.py``; ``python -m benchmarks blocking`` times blocking the
app's own tracker markup, in process: ``benchmarks/blocking.py``.)

Starts one uvicorn server per variant (``benchmarks/apps.py``) on 127.0.0.1,
loads each with wrk, interleaving the variants over several rounds (or, with
``--side-by-side``, loading all at once on one server CPU), and prints one table:
each server's CPU time per request, consentgate's throughput relative to bare,
passthrough and floor (medians of paired per-round ratios), and issue 17's
targets (``benchmarks/targets.py``), met or not; then the servers' peak resident
memory during the 1 MB scenarios. The report is also written to
``benchmarks/results/latest.md``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

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

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
HOST = "127.0.0.1"
VARIANTS = ("bare", "passthrough", "floor", "consentgate", "naive")
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
MIB = 1024 * 1024
RSS_SAMPLE_INTERVAL = 0.005
#: "No growth under load": what the load may add to a server's memory beyond the floor's.
GROWTH_TARGET_MIB = 0.5


# -- servers --------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Headers, bytes]:
    """One HTTP request to 127.0.0.1 (http.client: no proxy settings apply)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10.0)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        received: Headers = {}
        for name, value in response.getheaders():
            received.setdefault(name.lower(), []).append(value)
        return response.status, received, response.read()
    finally:
        conn.close()


def proc_status(pid: int) -> dict[str, int]:
    """The memory lines of /proc/<pid>/status, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key.startswith("Vm") and value.strip().endswith("kB"):
                out[key] = int(value.split()[0]) * 1024
    return out


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return proc_status(self.pid)["VmRSS"]

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS (Linux clear_refs 5); False where not allowed."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            return False
        return True

    def peak(self) -> int:
        return proc_status(self.pid)["VmHWM"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(variant: str, workdir: Path, pin: list[str]) -> Server:
    port = free_port()
    env = {**os.environ, apps.STORE_ENV: f"sqlite:///{workdir / f'{variant}-log.db'}"}
    command = [
        *pin,
        sys.executable,
        "-m",
        "uvicorn",
        f"benchmarks.apps:{variant}",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log_path = workdir / f"{variant}-server.log"
    with log_path.open("wb") as log:
        # taskset execs uvicorn, so the pid is the server's own.
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(variant, port, process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            if request(port, "GET", "/json")[0] == 200:
                return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise SystemExit(
                f"the {variant} server did not start:\n" + log_path.read_text(errors="replace")
            )
        time.sleep(0.05)


def visitor_cookies(server: Server | None) -> dict[Visitor, str]:
    """The consent cookies of a visitor who granted statistics + marketing and of one
    who refused all, made by posting the banner's form to the consentgate server."""
    if server is None:  # no variant reads the cookie then
        return {"consented": "consentgate=none", "refused": "consentgate=none"}

    def fetch(
        method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Headers, bytes]:
        return request(server.port, method, path, body=body, headers=headers)

    origin = f"http://{HOST}:{server.port}"
    return {
        "consented": consent_cookie(fetch, origin, "consented"),
        "refused": consent_cookie(fetch, origin, "refused"),
    }


def check_responses(server: Server, cookies: dict[Visitor, str]) -> None:
    """Each scenario's response is what its name says, before anything is timed."""
    for scenario in SCENARIOS:
        cookie = cookies.get(scenario.visitor)
        headers = {"Cookie": cookie} if cookie else {}
        status, received, body = request(server.port, "GET", scenario.path, headers=headers)
        problem = check_response(server.variant, scenario, status, received, body)
        if problem:
            raise SystemExit(f"{server.variant} {scenario.name}: {problem}")


# -- load ----------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_sec: float
    requests: int
    errors: int
    raw: str
    #: The server's CPU time per request during the run, µs (set by ``measure``).
    cpu_us: float = 0.0


def run_wrk(
    wrk: str,
    pin: list[str],
    port: int,
    path: str,
    *,
    seconds: int,
    connections: int,
    threads: int,
    cookie: str | None,
) -> WrkResult:
    command = [
        *pin,
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(f"http://{HOST}:{port}{path}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if done.returncode != 0 or rate is None or count is None:
        raise SystemExit(f"wrk failed ({shlex.join(command)}):\n{out}\n{done.stderr}")
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non_2xx:
        errors += int(non_2xx[1])
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(float(rate[1]), int(count[1]), errors, out)


@contextmanager
def rss_sampler(server: Server) -> Iterator[list[int]]:
    """Sample VmRSS while the block runs (the fallback when VmHWM cannot be reset)."""
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                samples.append(server.rss())
            except (OSError, KeyError):
                return
            stop.wait(RSS_SAMPLE_INTERVAL)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass
class Memory:
    before: int
    peak: int
    method: str


def measure(
    servers: Sequence[Server],
    scenario: Scenario,
    seconds: int,
    load: Callable[[Server, Scenario, int], WrkResult],
) -> list[tuple[WrkResult, Memory | None]]:
    """Load the servers at once (each by its own wrk) and, for a memory scenario,
    record each one's peak RSS during the run."""
    befores = [server.rss() for server in servers] if scenario.memory else []
    exact = [server.reset_peak() for server in servers] if scenario.memory else []
    with ExitStack() as stack:
        samples = (
            [stack.enter_context(rss_sampler(server)) for server in servers]
            if scenario.memory
            else []
        )
        cpu_before = [cpu_seconds(server.pid) for server in servers]
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            runs = [pool.submit(load, server, scenario, seconds) for server in servers]
            results = [run.result() for run in runs]
        for server, before, result in zip(servers, cpu_before, results, strict=True):
            result.cpu_us = (cpu_seconds(server.pid) - before) * 1e6 / max(result.requests, 1)
    if not scenario.memory:
        return [(result, None) for result in results]
    measured: list[tuple[WrkResult, Memory | None]] = []
    for i, (server, result) in enumerate(zip(servers, results, strict=True)):
        sampled = max(samples[i], default=befores[i])
        peak = max(server.peak(), sampled) if exact[i] else sampled
        method = "VmHWM reset via clear_refs" if exact[i] else "VmRSS sampling"
        measured.append((result, Memory(befores[i], peak, method)))
    return measured


@dataclass
class Results:
    rps: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cpu_us: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    memory: dict[tuple[str, str], list[Memory]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    idle_rss: dict[str, int] = field(default_factory=dict)
    source_before: str = ""
    source_after: str = ""
    load_before: str = ""
    load_after: str = ""


# -- report ----------------------------------------------------------------


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    try:
        with open("/proc/loadavg") as loadavg:
            return " ".join(loadavg.read().split()[:3])
    except OSError:
        return "unknown"


def source_fingerprint() -> str:
    """A digest of the consentgate package the servers import, to tie figures to the code."""
    import consentgate

    package = Path(consentgate.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(
        p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "CPU": cpu,
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "packages": ", ".join(
            f"{name} {version(name)}"
            for name in ("consentgate", "starlette", "uvicorn", "uvloop", "httptools")
        ),
    }


def median_ratio(results: Results, scenario: str, variant: str, reference: str = "bare") -> float:
    """The median over the rounds of variant req/s ÷ reference req/s in the same round."""
    variant_rps = results.rps[(scenario, variant)]
    reference_rps = results.rps[(scenario, reference)]
    return statistics.median(v / r for v, r in zip(variant_rps, reference_rps, strict=True))


def figures(results: Results) -> Figures:
    """µs per request: the server's CPU time per request, median over the rounds."""
    us = {key: statistics.median(values) for key, values in results.cpu_us.items()}
    return Figures(us, lambda s, v, r: median_ratio(results, s, v, r))


def memory_rows(
    results: Results, scenarios: Sequence[Scenario], others: Sequence[str]
) -> tuple[list[str], list[Verdict]]:
    header = ["Scenario", "bare peak"]
    for variant in others:
        header += [f"{variant} peak", "Δ peak", "Δ growth"]
    judged = "consentgate" in others and "floor" in others
    if judged:
        header += ["target (consentgate)", "measured", "met"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    verdicts: list[Verdict] = []
    for scenario in scenarios:
        bare = results.memory[(scenario.name, "bare")]
        row = [scenario.label, f"{statistics.median(m.peak for m in bare) / MIB:.1f}"]
        deltas: dict[str, tuple[float, float]] = {}
        for variant in others:
            measured = results.memory[(scenario.name, variant)]
            deltas[variant] = (
                statistics.median(m.peak - b.peak for m, b in zip(measured, bare, strict=True))
                / MIB,
                statistics.median(
                    (m.peak - m.before) - (b.peak - b.before)
                    for m, b in zip(measured, bare, strict=True)
                )
                / MIB,
            )
            peak = statistics.median(m.peak for m in measured) / MIB
            row += [f"{peak:.1f}", f"{deltas[variant][0]:+.1f}", f"{deltas[variant][1]:+.1f}"]
        if judged:
            over_peak = deltas["consentgate"][0] - deltas["floor"][0]
            over_growth = deltas["consentgate"][1] - deltas["floor"][1]
            verdict = Verdict(
                f"peak ≤ floor's + {MEMORY_PEAK_MIB:g} MiB, growth ≤ floor's "
                f"+ {GROWTH_TARGET_MIB:g} MiB",
                f"{over_peak:+.1f} / {over_growth:+.1f} MiB",
                over_peak <= MEMORY_PEAK_MIB and over_growth <= GROWTH_TARGET_MIB,
            )
            verdicts.append(verdict)
            row += [verdict.target, verdict.measured, "met" if verdict.met else "**not met**"]
        lines.append("| " + " | ".join(row) + " |")
    return lines, verdicts


def render(
    results: Results, args: argparse.Namespace, variants: Sequence[str], pinned: bool
) -> str:
    facts = machine_facts()
    others = [v for v in variants if v != "bare"]
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    lines = [
        "# consentgate benchmark",
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `python -m benchmarks {shlex.join(args.argv)}`",
        f"- Load: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s per run, "
        f"{args.rounds} rounds, "
        + (
            "variants side by side (all servers loaded at once, each by its own wrk)"
            if args.side_by_side
            else "variants interleaved (order rotated each round)"
        ),
        "- Servers: uvicorn --loop uvloop --http httptools, 1 worker, no access log"
        + (", all pinned to CPU 0 (wrk on CPU 1)" if pinned else ", not pinned"),
    ]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines.append(
        f"- consentgate source digest (sha256 of the package files): {results.source_before}"
    )
    if results.source_after != results.source_before:
        lines.append(
            f"- **The package changed during the run** (now {results.source_after}); "
            "the servers ran the code as it was when they started."
        )
    table_lines, verdicts = table(scenarios, variants, figures(results), "live")
    lines += [
        "",
        "## Cost per request and targets",
        "",
        "µs: the server process's CPU time (user + system, /proc/<pid>/stat) per request "
        "served, median over the rounds. `cg ÷ x`: consentgate's throughput relative to x, "
        "the median over the rounds of the ratio of their req/s in the same round. Targets "
        "(issue 17) are judged on the throughput ratios, and the CSP row on the µs.",
        "",
        *table_lines,
    ]

    memory_scenarios = [s for s in scenarios if s.memory]
    if memory_scenarios:
        methods = {m.method for ms in results.memory.values() for m in ms}
        memory_lines, memory_verdicts = memory_rows(results, memory_scenarios, others)
        verdicts += memory_verdicts
        lines += [
            "",
            "## Peak memory during the 1 MB scenarios",
            "",
            "Peak RSS of each server process while wrk ran (median over the rounds, MiB; "
            f"measured with {' and '.join(sorted(methods))}). Δ peak = peak − bare's peak in "
            "the same round; Δ growth = (peak − RSS just before the run) − the same for bare, "
            "i.e. memory the load itself added, without the difference in code loaded at "
            "start-up. The target compares consentgate's with the floor's. Idle RSS after "
            "start-up: "
            + ", ".join(f"{v} {results.idle_rss[v] / MIB:.1f}" for v in variants)
            + " MiB.",
            "",
            *memory_lines,
        ]
    if verdicts:
        lines += ["", f"Targets met: {sum(v.met for v in verdicts)} of {len(verdicts)}."]

    lines += [
        "",
        "## Every run (requests/s, round by round)",
        "",
        "| Scenario | " + " | ".join(variants) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(variants)) + "|",
    ]
    for scenario in scenarios:
        runs = [
            ", ".join(f"{rps:,.0f}" for rps in results.rps[(scenario.name, variant)])
            for variant in variants
        ]
        lines.append(f"| {scenario.label} | " + " | ".join(runs) + " |")
    lines += ["", f"Load average before / after: {results.load_before} / {results.load_after}."]
    if results.errors:
        lines += ["", "## Errors during the runs", ""]
        lines += [f"- {error}" for error in results.errors]
    return "\n".join(lines) + "\n"


# -- main ----------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Throughput and memory of consentgate next to a bare app and a naive "
        "middleware, with uvicorn and wrk on 127.0.0.1.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per path")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=[s.name for s in SCENARIOS],
        default=[s.name for s in SCENARIOS],
    )
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="bare is implied"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wrk to CPUs")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="load all variants at once instead of one after another: the servers share "
        "one CPU, so the ratio of their rates is the inverse ratio of their CPU cost per "
        "request, with a far smaller spread than serial runs",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a consentgate target is not met"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds < 1 or args.connections < 1 or args.threads < 1:
        parser.error("--rounds, --seconds, --connections and --threads must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    args.argv = list(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["log"]:
        from benchmarks import log

        return log.main(argv[1:])
    if argv[:1] == ["inprocess"]:
        from benchmarks import inprocess

        return inprocess.main(argv[1:])
    if argv[:1] == ["blocking"]:
        from benchmarks import blocking

        return blocking.main(argv[1:])
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    variants = ["bare", *(v for v in VARIANTS if v != "bare" and v in args.variants)]
    cpus = sorted(os.sched_getaffinity(0))
    taskset = shutil.which("taskset")
    pinned = not args.no_pin and len(cpus) >= 2 and taskset is not None
    server_pin = [str(taskset), "-c", str(cpus[0])] if pinned else []
    wrk_pin = [str(taskset), "-c", str(cpus[1])] if pinned else []
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    results = Results(load_before=load_average(), source_before=source_fingerprint())
    servers: dict[str, Server] = {}
    cookies: dict[Visitor, str] = {}
    started = time.monotonic()

    def load(server: Server, scenario: Scenario, seconds: int) -> WrkResult:
        return run_wrk(
            wrk,
            wrk_pin,
            server.port,
            scenario.path,
            seconds=seconds,
            connections=args.connections,
            threads=args.threads,
            cookie=cookies.get(scenario.visitor),
        )

    with tempfile.TemporaryDirectory(prefix="consentgate-bench-") as tmp:
        try:
            for variant in variants:
                servers[variant] = start_server(variant, Path(tmp), server_pin)
                results.idle_rss[variant] = servers[variant].rss()
            cookies = visitor_cookies(servers.get("consentgate"))
            for server in servers.values():
                check_responses(server, cookies)
            if args.warmup:
                for scenario in scenarios:
                    for server in servers.values():
                        load(server, scenario, args.warmup)
            total = args.rounds * len(scenarios) * len(variants)
            done = 0
            for round_index in range(args.rounds):
                for scenario_index, scenario in enumerate(scenarios):
                    shift = (round_index + scenario_index) % len(variants)
                    order = variants[shift:] + variants[:shift]
                    # Side by side: every variant loaded at once, all servers on one CPU.
                    batches = [order] if args.side_by_side else [[v] for v in order]
                    for batch in batches:
                        measured = measure(
                            [servers[v] for v in batch], scenario, args.seconds, load
                        )
                        for variant, (result, memory) in zip(batch, measured, strict=True):
                            results.rps.setdefault((scenario.name, variant), []).append(
                                result.requests_per_sec
                            )
                            results.cpu_us.setdefault((scenario.name, variant), []).append(
                                result.cpu_us
                            )
                            if memory is not None:
                                results.memory.setdefault((scenario.name, variant), []).append(
                                    memory
                                )
                            if result.errors:
                                results.errors.append(
                                    f"round {round_index + 1}, {scenario.name}, {variant}: "
                                    f"{result.errors} errors of {result.requests} requests"
                                )
                            done += 1
                            print(
                                f"[{done}/{total}] round {round_index + 1} "
                                f"{scenario.name:<15} {variant:<12} "
                                f"{result.requests_per_sec:>10,.0f} req/s",
                                file=sys.stderr,
                                flush=True,
                            )
        finally:
            results.load_after = load_average()
            results.source_after = source_fingerprint()
            for server in servers.values():
                server.stop()

    report = render(results, args, variants, pinned)
    report += f"\nTotal run time: {time.monotonic() - started:.0f} s.\n"
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)
    if args.check and "**not met**" in report:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
