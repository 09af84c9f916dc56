"""The suite's phases: each loads servers and returns plain data for bench/report.py.

* scenarios: proxy and pass-through (and nginx) in alternating rounds, req/s and CPU per request;
* latency: one connection, the latency one translating hop adds;
* workers: `serve --workers 1` vs `--workers 2`;
* rss: VmRSS of each worker at 1,000 connections, held idle then busy;
* memory: peak RSS while 50 lists of limit=2000 are in flight (the hardening issue's bound);
* uvloop: GET task with and without uvloop, same run;
* micro: bench/micro.py in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from . import report
from .loadgen import LoadGen, basic, check, count_calls, raw_request, read_answer
from .procs import CLIENT_CPU, SERVER_CPU, PeakRss, Proc, Processes, cpu_busy, rss_kb, set_affinity
from .scenarios import (BY_NAME, LATENCY_SCENARIOS, MEMORY_CONCURRENCY, MEMORY_REQUESTS, RSS_CONNECTIONS,
                        SCENARIOS, Req, Scenario)
from .servers import start_proxy, uvloop_available


def log(line: str = "") -> None:
    print(line, flush=True)


@dataclass
class Context:
    args: argparse.Namespace
    procs: Processes
    gen: LoadGen
    canned: Proc | None
    pin: bool
    results: dict[str, Any] = field(default_factory=dict)


# ============================================================================ one run, rounds

def measured_run(ctx: Context, server: Proc, req: Req, connections: int, duration: float) -> dict[str, Any]:
    """One load run, with the CPU each process used: the server (its CPU seconds and CPU per
    request, from /proc), the canned upstream, the load generator, and other work (on the
    server's CPU when pinned, else on all CPUs)."""
    assert ctx.canned is not None
    server_before, canned_before, busy_before = server.cpu(), ctx.canned.cpu(), cpu_busy()
    started = time.monotonic()
    result = ctx.gen.run(server.url, req, connections, duration)
    wall = time.monotonic() - started
    server_cpu_s = server.cpu() - server_before
    busy_after = cpu_busy()
    result["server_cpu_s"] = round(server_cpu_s, 3)
    result["cpu_us_per_req"] = report.cpu_per_request_us(server_cpu_s, result["requests"])
    result["server_cpu"] = round(server_cpu_s / wall, 2)                     # cores busy
    result["canned_cpu"] = round((ctx.canned.cpu() - canned_before) / wall, 2)
    result["loadgen_cpu"] = round(result.pop("loadgen_cpu_s") / wall, 2)
    if server.cpus:
        cpus, ours = server.cpus, result["server_cpu"]
    else:
        cpus, ours = set(busy_after), result["server_cpu"] + result["canned_cpu"] + result["loadgen_cpu"]
    spent = sum(busy_after.get(c, 0.0) - busy_before.get(c, 0.0) for c in cpus) / wall
    result["other_cpu"] = round(max(0.0, spent - ours), 2)
    return result


def alternate(ctx: Context, label: str, entries: list[tuple[str, Proc, Req]], connections: int,
              duration: float, rounds: int, warmup: float) -> dict[str, dict[str, Any]]:
    """Warm each server up once, then R rounds; the order rotates every round."""
    out: dict[str, dict[str, Any]] = {name: {"runs": []} for name, _, _ in entries}
    if warmup > 0:
        for name, server, req in entries:
            ctx.gen.run(server.url, req, connections, warmup)
    for number in range(rounds):
        shift = number % len(entries)
        for name, server, req in entries[shift:] + entries[:shift]:
            result = measured_run(ctx, server, req, connections, duration)
            result["round"] = number + 1
            out[name]["runs"].append(result)
            log(f"    {label:<18} round {number + 1}/{rounds}  {name:<12} {result['rps']:>8,.0f} req/s "
                f"{result['cpu_us_per_req'] or 0:>7.0f} µs cpu/req  p50 {result['p50_ms']:6.2f} ms  "
                f"p99 {result['p99_ms']:7.2f} ms  err {result['error_count']}  cpu srv {result['server_cpu']:.2f} "
                f"up {result['canned_cpu']:.2f} gen {result['loadgen_cpu']:.2f} other {result['other_cpu']:.2f}")
    for name in out:
        out[name]["median"] = report.summarise(out[name]["runs"])
    return out


# ============================================================================ scenarios

def selected(args: argparse.Namespace) -> list[Scenario]:
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only or s.family in args.only]
    if args.quick and not args.only:
        chosen = [s for s in chosen if s.quick]
    return chosen


def run_scenarios(ctx: Context, servers: dict[str, Proc | None]) -> dict[str, Any]:
    args = ctx.args
    results: dict[str, Any] = {}
    for scenario in selected(args):
        log(f"  scenario {scenario.name}: {scenario.title}, {scenario.connections} connections")
        entry: dict[str, Any] = {"title": scenario.title, "family": scenario.family, "kind": scenario.kind,
                                 "connections": scenario.connections, "servers": {}, "upstream_calls": {},
                                 "problems": {}, "max_calls": scenario.max_calls}
        results[scenario.name] = entry
        proxy = servers.get("proxy")
        assert proxy is not None
        first = check(proxy.url, scenario.proxy)
        if not first.ok and first.not_available:
            entry["available"] = False
            entry["unavailable"] = first.problem[:300]
            log(f"    not available: the proxy answers {first.problem[:160]}")
            continue
        entry["available"] = True
        entries: list[tuple[str, Proc, Req]] = []
        wanted = [("proxy", scenario.proxy)]
        if scenario.baseline is not None:
            wanted.append(("passthrough", scenario.baseline))
            if scenario.nginx:
                wanted.append(("nginx", scenario.baseline))
        for name, req in wanted:
            server = servers.get(name)
            if server is None:
                continue
            answer = first if name == "proxy" else check(server.url, req)
            if not answer.ok:
                entry["problems"][name] = answer.problem[:500]
                log(f"    {name}: WRONG ANSWER, not measured: {answer.problem[:300]}")
            else:
                entries.append((name, server, req))
        for name, server, req in entries:
            if name in ("proxy", "passthrough"):
                entry["upstream_calls"][name] = count_calls(ctx.canned.url, server.url, req)  # type: ignore[union-attr]
        try:
            if entries:
                entry["servers"] = alternate(ctx, scenario.name, entries, scenario.connections, args.duration,
                                             args.rounds, args.warmup)
        except RuntimeError as exc:       # e.g. the load generator failed: keep the other scenarios
            log(f"    FAILED: {exc}")
            entry["problems"]["run"] = str(exc)[:500]
        entry.update(report.ratios(entry["servers"]))
    return results


def run_latency(ctx: Context, servers: dict[str, Proc | None]) -> dict[str, Any]:
    """One connection: the latency one proxy hop adds over the bare pass-through."""
    args = ctx.args
    results: dict[str, Any] = {}
    duration = min(args.duration, 3.0)
    for name in LATENCY_SCENARIOS:
        scenario = BY_NAME[name]
        if args.only and name not in args.only:
            continue
        entries = [(server, servers[server], req) for server, req in
                   (("proxy", scenario.proxy), ("passthrough", scenario.baseline))
                   if servers.get(server) is not None and req is not None and check(servers[server].url, req).ok]
        if len(entries) < 2:
            continue
        log(f"  one connection: {name}")
        runs = alternate(ctx, f"{name}@c1", entries, 1, duration, args.rounds, 0)
        proxy, base = runs["proxy"]["median"], runs["passthrough"]["median"]
        results[name] = {"servers": runs, "duration": duration,
                         "added_p50_ms": round(proxy["p50_ms"] - base["p50_ms"], 3),
                         "added_p99_ms": round(proxy["p99_ms"] - base["p99_ms"], 3)}
    return results


# ============================================================================ workers and RSS

def _unpinned(ctx: Context) -> Callable[[], None]:
    """Let the canned upstream and the load generator use every CPU; returns the undo."""
    if ctx.pin and ctx.canned is not None:
        set_affinity(ctx.canned.pid, set(range(os.cpu_count() or 1)))
    gen_pin, ctx.gen.pin = ctx.gen.pin, False

    def undo() -> None:
        ctx.gen.pin = gen_pin
        if ctx.pin and ctx.canned is not None:
            set_affinity(ctx.canned.pid, {CLIENT_CPU})
    return undo


def run_workers(ctx: Context) -> dict[str, Any]:
    """`serve --workers 1` vs `--workers 2`, nothing pinned: the two cores are shared by the
    workers, the canned upstream and the load generator alike; then RSS of each at 1,000
    connections."""
    args = ctx.args
    scenario = BY_NAME["get_task"]
    log(f"  workers scaling: {scenario.title}, 64 connections, nothing pinned")
    undo = _unpinned(ctx)
    assert ctx.canned is not None
    w1 = start_proxy(ctx.procs, ctx.canned, "proxy-w1", 1, cpus=None)
    w2 = start_proxy(ctx.procs, ctx.canned, "proxy-w2", 2, cpus=None)
    try:
        for proc in (w1, w2):
            answer = check(proc.url, scenario.proxy)
            if not answer.ok:
                raise RuntimeError(f"{proc.name} answers wrongly: {answer.problem}")
        result: dict[str, Any] = {}
        if "workers" not in args.skip:
            runs = alternate(ctx, "workers", [("1 worker", w1, scenario.proxy), ("2 workers", w2, scenario.proxy)],
                             64, args.duration, args.rounds, args.warmup)
            one, two = runs["1 worker"]["median"], runs["2 workers"]["median"]
            result = {"servers": runs, "ratio": report.ratio(two.get("rps"), one.get("rps")),
                      "ready_lines": [w1.ready_line, w2.ready_line]}
        if "rss" not in args.skip:
            result["rss"] = run_rss(ctx, {"1 worker": w1, "2 workers": w2})
        return result
    finally:
        undo()
        for proc in (w2, w1):
            ctx.procs.stop(proc)


async def _hold_idle(base: str, count: int, settle: float, sample: Callable[[], None]) -> dict[str, Any]:
    """Open `count` keep-alive connections, one GET on each, then hold them idle and sample."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = raw_request("GET", "/api/task/10", host, port, {"Authorization": basic()}, None)
    writers: list[asyncio.StreamWriter] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 15)
            writers.append(writer)
            writer.write(request)
            status, _, _ = await asyncio.wait_for(read_answer(reader), 30)
            if status != 200:
                failures += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            failures += 1

    try:
        for start in range(0, count, 100):      # in batches: the listen backlog is finite
            await asyncio.gather(*(one() for _ in range(min(100, count - start))))
        end = time.monotonic() + settle
        while time.monotonic() < end:
            sample()
            await asyncio.sleep(0.25)
        sample()
    finally:
        for writer in writers:
            try:
                writer.close()
            except RuntimeError:    # the loop is already closed after an interrupt
                pass
    return {"opened": len(writers), "failures": failures}


def _run_loop(coroutine: Any) -> Any:
    # Not asyncio.run: its SIGINT handling would turn Ctrl-C into a cancellation here.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def run_rss(ctx: Context, servers: dict[str, Proc]) -> dict[str, Any]:
    """RSS of each worker at 1,000 connections: held idle, then all busy."""
    args = ctx.args
    results: dict[str, Any] = {}
    mb = lambda kb: round((kb or 0) / 1024, 1)  # noqa: E731
    for label, proc in servers.items():
        workers = proc.workers()
        before = {pid: rss_kb(pid) for pid in workers}
        log(f"  RSS at {RSS_CONNECTIONS} connections: {label} (workers {workers})")
        idle_peak = PeakRss(workers)
        idle = _run_loop(_hold_idle(proc.url, RSS_CONNECTIONS, min(2.0, args.duration), idle_peak.sample))
        with PeakRss(workers, every=0.25) as busy_peak:
            active = ctx.gen.run(proc.url, BY_NAME["get_task"].proxy, RSS_CONNECTIONS, args.duration)
        results[label] = {
            "workers": workers,
            "before_mb": {str(p): mb(v) for p, v in before.items()},
            "idle_mb": {str(p): mb(v) for p, v in idle_peak.peak_kb.items()},
            "idle_fds": {str(p): v for p, v in idle_peak.fds.items()},
            "idle_client": idle,
            "active_mb": {str(p): mb(v) for p, v in busy_peak.peak_kb.items()},
            "active_fds": {str(p): v for p, v in busy_peak.fds.items()},
            "active_rps": active["rps"], "active_p99_ms": active["p99_ms"], "active_errors": active["errors"],
            "max_mb": max([mb(v) for v in idle_peak.peak_kb.values()] + [mb(v) for v in busy_peak.peak_kb.values()]),
        }
        log(f"    {label}: max RSS per worker {results[label]['max_mb']} MB (idle {results[label]['idle_mb']}, "
            f"busy {results[label]['active_mb']}), busy {active['rps']:,.0f} req/s, "
            f"errors {sum(active['errors'].values())}")
    return results


# ============================================================================ memory under big lists

async def _concurrent(base: str, req: Req, count: int, timeout: float) -> dict[str, Any]:
    """`count` requests at once, each on its own connection; statuses, sizes and times."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = raw_request(req.method, req.path, host, port, {"Authorization": basic(), **dict(req.headers)}, req.body)
    statuses: dict[str, int] = {}
    sizes: list[int] = []
    times: list[float] = []
    bad: list[str] = []

    async def one() -> None:
        begin = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 15)
            try:
                writer.write(request)
                status, _, body = await asyncio.wait_for(read_answer(reader), timeout)
            finally:
                writer.close()
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            sizes.append(len(body))
            times.append(time.perf_counter() - begin)
            if req.marker is not None and req.marker not in body and len(bad) < 3:
                bad.append(f"status {status}: {body[:200]!r}")
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return {"statuses": statuses, "wall_s": round(time.perf_counter() - started, 2),
            "slowest_s": round(max(times), 2) if times else None,
            "answer_kb": round(statistics.median(sizes) / 1024, 1) if sizes else None, "wrong": bad}


def run_memory(ctx: Context, limit_mb: float | None) -> dict[str, Any]:
    """Peak RSS of a fresh proxy while 50 `limit=2000` lists are in flight at once (tasks, then
    parties, each on its own proxy), read from /proc every 50 ms."""
    assert ctx.canned is not None
    results: dict[str, Any] = {}
    for label, req in MEMORY_REQUESTS:
        proxy = start_proxy(ctx.procs, ctx.canned, f"proxy-memory-{label}")
        try:
            first = check(proxy.url, Req(req.method, req.path.replace("limit=2000", "limit=10")))
            if not first.ok:
                results[label] = {"available": False, "unavailable": first.problem[:300]}
                log(f"  memory, {label}: not available: {first.problem[:160]}")
                continue
            before = rss_kb(proxy.pid) or 0
            log(f"  memory: {MEMORY_CONCURRENCY} concurrent {req.method} {req.path} (RSS before "
                f"{before / 1024:.1f} MB)")
            with PeakRss([proxy.pid], every=0.05) as peak:
                outcome = _run_loop(_concurrent(proxy.url, req, MEMORY_CONCURRENCY, timeout=150))
            after = rss_kb(proxy.pid) or 0
            peak_mb = round(peak.peak_kb[proxy.pid] / 1024, 1)
            results[label] = {"available": True, "request": f"{req.method} {req.path}",
                              "concurrency": MEMORY_CONCURRENCY, "before_mb": round(before / 1024, 1),
                              "peak_mb": peak_mb, "after_mb": round(after / 1024, 1),
                              "samples": peak.samples, "limit_mb": limit_mb, **outcome}
            log(f"    peak RSS {peak_mb} MB (before {before / 1024:.1f}, after {after / 1024:.1f}); answers "
                f"{outcome['statuses']}, {outcome['answer_kb']} KB each, all done in {outcome['wall_s']} s")
        finally:
            ctx.procs.stop(proxy)
    return results


# ============================================================================ uvloop

def run_uvloop(ctx: Context) -> dict[str, Any]:
    """GET task on the proxy with asyncio's loop and with uvloop's, alternating rounds."""
    why_not = uvloop_available()
    if why_not is not None:
        log(f"  uvloop: not measured: {why_not}")
        return {"available": False, "unavailable": why_not}
    assert ctx.canned is not None
    args = ctx.args
    scenario = BY_NAME["get_task"]
    plain = start_proxy(ctx.procs, ctx.canned, "proxy-asyncio")
    fast = start_proxy(ctx.procs, ctx.canned, "proxy-uvloop", uvloop=True)
    try:
        for proc in (plain, fast):
            answer = check(proc.url, scenario.proxy)
            if not answer.ok:
                raise RuntimeError(f"{proc.name} answers wrongly: {answer.problem}")
        log(f"  uvloop: {scenario.title}, {scenario.connections} connections, asyncio vs uvloop")
        runs = alternate(ctx, "uvloop", [("asyncio", plain, scenario.proxy), ("uvloop", fast, scenario.proxy)],
                         scenario.connections, args.duration, args.rounds, args.warmup)
        one, two = runs["asyncio"]["median"], runs["uvloop"]["median"]
        return {"available": True, "servers": runs, "ratio": report.ratio(two.get("rps"), one.get("rps")),
                "cpu_ratio": report.cpu_ratio(two.get("cpu_us_per_req"), one.get("cpu_us_per_req"))}
    finally:
        for proc in (fast, plain):
            ctx.procs.stop(proc)


# ============================================================================ micro

def run_micro(ctx: Context) -> dict[str, Any]:
    """bench/micro.py in this process, pinned to the server CPU while it runs."""
    from . import micro
    log("  micro-benchmarks (document path, no HTTP)")
    original = os.sched_getaffinity(0)
    try:
        if ctx.pin:
            os.sched_setaffinity(0, {SERVER_CPU})
        return micro.run_all(7 if ctx.args.quick else 15)
    finally:
        os.sched_setaffinity(0, original)
