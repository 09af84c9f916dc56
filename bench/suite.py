"""The benchmark suite: capsule-proxy against a bare pass-through, every ratio in the same run.

    python -m bench.suite [--rounds 3] [--duration 5] [--quick] [--only NAMES] [--skip PHASES]
                          [--json FILE] [--compare OLD.json] [--profile SCENARIO]

It starts a canned v2 upstream (bench/canned.py), the proxy (`capsule-proxy serve --upstream
<canned>`, one process), the bare aiohttp pass-through (bench/passthrough.py) and, when installed,
nginx; loads each scenario (bench/scenarios.py) on proxy and references in alternating rounds;
then measures one-connection latency, uvloop, memory under 50 big lists, `--workers 1` vs `2` and
RSS at 1,000 connections, and the document path without HTTP (bench/micro.py). It prints every
goal (bench/report.py) with its measured value and PASS/MISS and saves bench/results/latest.json.

Modules: procs (processes, /proc), servers (how each server starts), loadgen (wrk, the Python
generator, checks), scenarios (the table), phases (the runs), report (goals, table, JSON), profile.
Every process it starts runs in its own session and is stopped (SIGTERM, then SIGKILL of the
whole group) on exit, Ctrl-C, SIGTERM, an error, or when --max-seconds runs out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from . import phases, report
from .loadgen import LoadGen, detect
from .phases import Context, log
from .procs import CLIENT_CPU, ROOT, SERVER_CPU, Proc, Processes, loadavg, pinning_possible
from .scenarios import BY_NAME, FAMILIES, RSS_CONNECTIONS, SCENARIOS
from .servers import start_canned, start_nginx, start_passthrough, start_proxy

DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
RESULTS_DIR = ROOT / "bench" / "results"
SCHEMA_VERSION = 2
PHASES = ("scenarios", "latency", "uvloop", "memory", "workers", "rss", "micro", "nginx")


def _names(text: str) -> set[str]:
    return {part.strip() for part in text.split(",") if part.strip()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds per scenario and server (3)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (5)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of warm-up per server (1)")
    parser.add_argument("--quick", action="store_true",
                        help="1 round x 2 s, the show/list/create scenarios only (a smoke run, noisy)")
    parser.add_argument("--json", default=str(DEFAULT_JSON), metavar="FILE",
                        help="write the results here (default bench/results/latest.json; the file "
                             "it replaces is kept as *.previous.json)")
    parser.add_argument("--compare", metavar="OLD.json", help="print the changes against an earlier run")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk when installed, else the Python generator")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--only", type=_names, default=set(),
                        help="comma-separated scenario names or families (" + ",".join(FAMILIES) + "; "
                             + ",".join(s.name for s in SCENARIOS) + ")")
    parser.add_argument("--skip", type=_names, default=set(), help="comma-separated phases: " + ",".join(PHASES))
    parser.add_argument("--max-seconds", type=float, default=2400.0,
                        help="stop everything and exit after this long (2400)")
    parser.add_argument("--profile", metavar="SCENARIO", choices=sorted(BY_NAME),
                        help="instead of the suite: py-spy on the proxy under this scenario's load, top 25 "
                             "functions saved to bench/results/profile-SCENARIO.txt")
    parser.add_argument("--profile-seconds", type=float, default=15.0, help="seconds of sampling (15)")
    return parser


def guarded(what: str, notes: list[str], function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one phase; a failure becomes a note (and an empty result), not the end of the run."""
    try:
        return function(*args)
    except (RuntimeError, OSError, AssertionError, ValueError, ImportError) as exc:
        log(f"    {what} FAILED: {type(exc).__name__}: {exc}")
        notes.append(f"{what} failed: {type(exc).__name__}: {str(exc)[:300]}")
        return {}


def _on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * RSS_CONNECTIONS + 1024
    if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _environment(args: argparse.Namespace, pin: bool, gen_text: str) -> dict[str, Any]:
    cpus = os.sched_getaffinity(0)
    pinning = (f"server under test on CPU {SERVER_CPU}; canned upstream and load generator on CPU {CLIENT_CPU} "
               f"(sched_setaffinity, as taskset -c); workers/RSS phases unpinned") if pin else \
        f"none ({'--no-pin' if args.no_pin else f'CPUs available: {sorted(cpus)}'})"
    limit, source = report.kubernetes_memory_limit()
    env: dict[str, Any] = {"cpus": os.cpu_count(), "affinity": sorted(cpus), "python": platform.python_version(),
                           "platform": platform.platform(), "loadavg_before": loadavg(), "loadgen": gen_text,
                           "pinning": pinning, "nginx": "not used", "k8s_memory_limit_mb": limit,
                           "k8s_memory_limit_source": source}
    try:
        import aiohttp
        import lxml.etree
        env["versions"] = {"aiohttp": aiohttp.__version__, "lxml": ".".join(map(str, lxml.etree.LXML_VERSION))}
    except ImportError:
        pass
    return env


def _notes(results: dict[str, Any], pin: bool) -> list[str]:
    notes = [
        f"wall time {results['elapsed_s']:.0f} s on {os.cpu_count()} CPUs; other work on the machine shows in "
        "the load averages: compare the ratios (same run, alternating rounds), not absolute req/s.",
        "CPU per request = the server process's user+system CPU seconds (/proc/PID/stat) over all rounds / the "
        "requests it answered in them; the cpu ratio is the pass-through's over the proxy's.",
        "Closed loop: each connection sends its next request only after the previous answer (wrk and the Python "
        "generator alike), so stalls are not timed (coordinated omission); p99 understates what clients arriving "
        "at a fixed rate would see.",
        "The pass-through (and nginx) copy one v2 answer back untranslated: no XML, no validation, no look-ups; "
        "for a list, one page of 100.",
        "Upstream calls: 'cold' is the first request with a fresh token (look-up caches empty), 'warm' the mean "
        "of the next 5, from the canned upstream's /_stats; look-ups are the calls in canned.LOOKUP_KINDS.",
        "RSS is VmRSS (shared library pages included, so per-worker figures overlap).",
    ]
    for name, entry in results.get("scenarios", {}).items():
        starved = [f"{server} got {m['server_cpu']:.2f} of a core while other work took {m['other_cpu']:.2f}"
                   for server, data in entry.get("servers", {}).items() if server in ("proxy", "passthrough")
                   and (m := data.get("median")) and m["server_cpu"] < 0.85 and m["other_cpu"] >= 0.15]
        if pin and starved:
            notes.append(f"{name}: CPU {SERVER_CPU} was shared with other work ({'; '.join(starved)}; medians): "
                         "its req/s ratio reflects that contention; the CPU-per-request ratio is less sensitive.")
    unavailable = [name for name, entry in results.get("scenarios", {}).items() if entry.get("available") is False]
    if unavailable:
        notes.append(f"not available in this build (the proxy answers non-2xx, e.g. 501 for a family it does not "
                     f"translate yet): {', '.join(unavailable)}. The same command measures them once merged.")
    return notes


def run_suite(args: argparse.Namespace) -> int:
    notes: list[str] = []
    pin = not args.no_pin and pinning_possible()
    kind, gen_text = detect(args.loadgen)
    _raise_fd_limit()
    started = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "started": started,
        "settings": {"rounds": args.rounds, "duration": args.duration, "warmup": args.warmup, "quick": args.quick,
                     "only": sorted(args.only), "skip": sorted(args.skip)},
        "environment": _environment(args, pin, gen_text),
    }
    if kind == "python":
        notes.append("wrk is not installed: load came from the Python generator, which needs several times wrk's "
                     "CPU on the client core (apt-get install wrk; see bench/README.md).")
    clock = time.monotonic()
    log(f"bench.suite: {args.rounds} round(s) x {args.duration:g} s per server and scenario; load generator "
        f"{gen_text}; pinning: {results['environment']['pinning']}")
    skip = args.skip
    with tempfile.TemporaryDirectory(prefix="capsule-suite-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir, pin)
        gen = LoadGen(kind, workdir, pin, registry=procs)
        try:
            ctx = Context(args, procs, gen, None, pin, results)
            if "micro" not in skip:
                results["micro"] = guarded("micro-benchmarks", notes, phases.run_micro, ctx)
            ctx.canned = start_canned(procs)
            log(f"  {ctx.canned.ready_line}")
            servers: dict[str, Proc | None] = {}
            if not {"scenarios", "latency"} <= skip:
                servers["proxy"] = start_proxy(procs, ctx.canned)
                log(f"  {servers['proxy'].ready_line}")
                servers["passthrough"] = start_passthrough(procs, ctx.canned)
                log(f"  {servers['passthrough'].ready_line}")
                if "nginx" not in skip:
                    servers["nginx"], results["environment"]["nginx"] = start_nginx(procs, workdir, ctx.canned.url)
                    log(f"  nginx: {results['environment']['nginx']}")
            if "scenarios" not in skip:
                results["scenarios"] = phases.run_scenarios(ctx, servers)
            if "latency" not in skip:
                results["latency"] = guarded("one-connection latency", notes, phases.run_latency, ctx, servers)
            for name in ("nginx", "passthrough", "proxy"):
                if servers.get(name) is not None:
                    code = procs.stop(servers[name])  # type: ignore[arg-type]
                    if name == "proxy":
                        results["environment"]["proxy_exit_status"] = code
            if "uvloop" not in skip:
                results["uvloop"] = guarded("uvloop", notes, phases.run_uvloop, ctx)
            if "memory" not in skip:
                results["memory"] = guarded("memory under big lists", notes, phases.run_memory, ctx,
                                            results["environment"]["k8s_memory_limit_mb"])
            if not {"workers", "rss"} <= skip:
                results["workers"] = guarded("workers scaling and RSS", notes, phases.run_workers, ctx)
        except KeyboardInterrupt:
            log("\nbench.suite: interrupted; stopping every process it started")
            procs.stop_all()
            return 130
        except SystemExit as exc:
            log(f"\nbench.suite: stopping every process it started (exit {exc.code})")
            procs.stop_all()
            raise
        except Exception as exc:
            log(f"\nbench.suite: failed: {type(exc).__name__}: {exc}")
            for proc in procs.started:
                tail = proc.log_tail(800)
                if tail:
                    log(f"--- {proc.name} log (tail) ---\n{tail}")
            procs.stop_all()
            return 1
        finally:
            signal.alarm(0)
            procs.stop_all()

    results["commands"] = {**procs.commands, "load (last run)": gen.last_command}
    results["environment"]["loadavg_after"] = loadavg()
    results["elapsed_s"] = round(time.monotonic() - clock, 1)
    results["goals"] = report.build_goals(results)
    results["notes"] = notes + _notes(results, pin)
    log(report.format_report(results))
    if args.compare:
        try:
            old = json.loads(Path(args.compare).read_text())
            log(report.format_compare(old, results, args.compare))
        except (OSError, ValueError) as exc:
            log(f"could not compare with {args.compare}: {exc}")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_name(path.stem + ".previous.json"))
    path.write_text(json.dumps(results, indent=2) + "\n")
    log(f"\nresults written to {path}")
    return 0


def run_profile(args: argparse.Namespace) -> int:
    from .profile import run_profile as profile
    pin = not args.no_pin and pinning_possible()
    kind, gen_text = detect(args.loadgen)
    _raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="capsule-profile-") as tmp:
        procs = Processes(Path(tmp), pin)
        try:
            canned = start_canned(procs)
            proxy = start_proxy(procs, canned)
            log(f"bench.suite --profile {args.profile}: {args.profile_seconds:g} s of py-spy; load: {gen_text}")
            outcome = profile(args.profile, args.profile_seconds, procs, LoadGen(kind, Path(tmp), pin, registry=procs),
                              proxy, RESULTS_DIR)
        finally:
            signal.alarm(0)
            procs.stop_all()
    log(outcome["text"])
    log(f"\nsaved to {outcome['path']} (folded stacks: {outcome['folded']})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else 1.0
    if args.rounds < 1 or args.duration < 1:
        _parser().error("--rounds and --duration must be at least 1")
    unknown = args.skip - set(PHASES)
    if unknown:
        _parser().error(f"--skip: unknown phase(s) {', '.join(sorted(unknown))}; phases: {', '.join(PHASES)}")
    unknown = args.only - set(BY_NAME) - set(FAMILIES)
    if unknown:
        _parser().error(f"--only: unknown scenario(s) or family(ies) {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even when started with SIGINT ignored
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _on_signal)
    signal.alarm(int(args.max_seconds))
    if args.profile:
        return run_profile(args)
    return run_suite(args)


if __name__ == "__main__":
    sys.exit(main())
