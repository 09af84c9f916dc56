"""A bounded load test for capsule-proxy: N keep-alive connections, a realistic v1 mix, T seconds.

    python -m bench.load [--connections 500] [--duration 30] [--warmup 3] [--target URL]
                         [--soak] [--json FILE]

Without --target it starts `capsule-proxy serve --port 0` (embedded emulator, in memory) as a
subprocess and measures that process's memory too. The demo seed allows 4000 requests per user
per hour, like Capsule, which a load test exhausts in seconds; so the bench serves a copy of the
demo seed with only `[limits] requests_per_hour` raised.

The generator is closed-loop: each of the N workers sends its next request only when the last
one was answered. A stalled server therefore also stalls the generator, so requests that would
have been sent during a stall are never timed (coordinated omission): the percentiles are those
of the requests sent and understate what an open-loop client arriving at a fixed rate would see.

Exit status: 0 when every request got its expected answer, 1 otherwise (2: could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import aiohttp

from .loadgen import percentile
from .procs import cpu_seconds, rss_kb  # the /proc readers the suite uses too

TOKEN = "tok-phillip"
TASK_IDS = (1, 2, 3)  # the demo seed's tasks
READY = re.compile(r"listening on (http://\S+)")
SEED_RATE_LIMIT = 1_000_000_000
SERVER_KEEPALIVE = 120  # seconds: longer than any gap between two requests of one connection
REQUEST_TIMEOUT = 30.0  # a request slower than this counts as an error (TimeoutError)

# One worker's cycle of 20 requests; each worker starts at its own offset in the cycle, so the
# mix holds at every moment, not only on average. A PUT updates the task the same worker created.
GET, LIST, POST, PUT = "GET /api/task/{id}", "GET /api/tasks?start=0&limit=10", "POST /api/task", "PUT /api/task/{created id}"
MIXES = {
    "default": (GET,) * 8 + (LIST,) + (POST,) + (GET,) * 8 + (LIST,) + (PUT,),   # 80% 10% 5% 5%
    "reads": (GET,) * 9 + (LIST,),                                                # 90% 10%
}
EXPECTED = {GET: 200, LIST: 200, POST: 201, PUT: 200}

POST_BODY = (b"<task><description>load test</description>"
             b"<dueDate>2026-05-01T00:00:00Z</dueDate></task>")
PUT_BODY = b"<task><description>load test, updated</description></task>"
XML = {"Content-Type": "application/xml"}


@dataclass
class Options:
    connections: int = 500
    duration: float = 30.0
    warmup: float = 3.0
    target: str | None = None
    pid: int | None = None          # the server to measure when --target is given
    soak: bool = False
    sample_every: float = 10.0
    mix: str = "default"
    json_path: str | None = None


# ------------------------------------------------------------------------------------ the process

def raise_fd_limit(connections: int) -> dict[str, int]:
    """Make room for N client sockets here and N + upstream sockets in the child (it inherits).

    Raises RuntimeError with a clear message when the hard limit is too low.
    """
    needed = 2 * connections + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise RuntimeError(
                f"{connections} connections need about {needed} open files, but the hard limit "
                f"(ulimit -Hn) is {hard}; raise it or use fewer --connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    soft_now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"needed": needed, "soft_before": soft, "soft": soft_now, "hard": hard}


def bench_seed(directory: str) -> str:
    """The demo seed with its rate limit raised, written to directory; returns its path."""
    text = resources.files("proxy.emulator").joinpath("demo_seed.toml").read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^requests_per_hour\s*=\s*\d+", f"requests_per_hour = {SEED_RATE_LIMIT}", text)
    if count != 1:
        raise RuntimeError("the demo seed no longer has one [limits] requests_per_hour line")
    path = Path(directory) / "bench_seed.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


class Server:
    """`capsule-proxy serve --port 0` as a subprocess; stderr goes to a file so it never blocks."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, line: str, stderr_path: str,
                 drain: asyncio.Task):
        self.process, self.url, self.line, self.stderr_path, self._drain = process, url, line, stderr_path, drain

    @classmethod
    async def start(cls, workdir: str) -> "Server":
        # 500 clients over a pool of 100 upstream calls means a queue of about 400 by design; on a
        # slow or shared machine draining it can take longer than the default queue_timeout, and
        # back-pressure 503s are the fault tests' subject, not this one's.
        env = dict(os.environ, CAPSULE_PROXY_SERVER_KEEPALIVE_TIMEOUT=str(SERVER_KEEPALIVE),
                   CAPSULE_PROXY_UPSTREAM_QUEUE_TIMEOUT="30")
        stderr_path = str(Path(workdir) / "server.stderr")
        with open(stderr_path, "wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "proxy", "serve", "--port", "0", "--seed", bench_seed(workdir),
                stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env)
        assert process.stdout is not None
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError("the proxy printed no ready line within 30 s") from None
        match = READY.search(line)
        if not match:
            process.kill()
            await process.wait()
            raise RuntimeError(f"no ready line from the proxy: stdout {line!r}, "
                               f"stderr {Path(stderr_path).read_text()[-2000:]!r}")
        drain = asyncio.create_task(_discard(process.stdout))
        return cls(process, match[1], line.strip(), stderr_path, drain)

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then the exit status (None when it had to be killed)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
                return None
        self._drain.cancel()
        return self.process.returncode

    def stderr_tail(self, chars: int = 2000) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


# ---------------------------------------------------------------------------------- the generator

@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)    # seconds, measured window only
    by_op: Counter = field(default_factory=Counter)          # measured window only
    errors: Counter = field(default_factory=Counter)         # whole run, warm-up included
    error_samples: list[str] = field(default_factory=list)
    started: int = 0        # whole run
    finished: int = 0       # whole run: answered as expected, or counted as an error
    created: int = 0        # tasks created by POSTs (grow the in-memory emulator DB)
    connections_opened: int = 0
    connections_reused: int = 0
    last_finish: float = 0.0


async def _worker(index: int, session: aiohttp.ClientSession, base: str, cycle: tuple[str, ...],
                  stats: Stats, measure_from: float, stop_at: float) -> None:
    clock = time.perf_counter
    position = index % len(cycle)
    task_url = [f"{base}/api/task/{task_id}" for task_id in TASK_IDS]
    list_url, post_url = f"{base}/api/tasks?start=0&limit=10", f"{base}/api/task"
    created_url: str | None = None
    n = index
    while True:
        started = clock()
        if started >= stop_at:
            return
        op = cycle[position]
        position = (position + 1) % len(cycle)
        if op is PUT and created_url is None:
            op = GET
        stats.started += 1
        problem = None
        try:
            if op is GET:
                n += 1
                async with session.get(task_url[n % 3]) as response:
                    body = await response.read()
                    if response.status != 200 or b"<task>" not in body:
                        problem = f"status {response.status}"
            elif op is LIST:
                async with session.get(list_url) as response:
                    body = await response.read()
                    if response.status != 200 or b"<tasks" not in body:
                        problem = f"status {response.status}"
            elif op is POST:
                async with session.post(post_url, data=POST_BODY, headers=XML) as response:
                    body = await response.read()
                    location = response.headers.get("Location", "")
                    if response.status != 201 or "/api/task/" not in location:
                        problem = f"status {response.status}"
                    else:
                        created_url = base + "/api/task/" + location.rsplit("/", 1)[1]
                        stats.created += 1
            else:
                async with session.put(created_url, data=PUT_BODY, headers=XML) as response:
                    body = await response.read()
                    if response.status != 200:
                        problem = f"status {response.status}"
        except Exception as exc:  # every exception is an error of its kind, never a crash
            problem = type(exc).__name__
            body = str(exc).encode()
        finished = clock()
        stats.finished += 1
        stats.last_finish = finished
        if problem is not None:
            key = f"{op}: {problem}"
            stats.errors[key] += 1
            if len(stats.error_samples) < 10:
                stats.error_samples.append(f"{key}: {body[:200]!r}")
        elif started >= measure_from:
            stats.latencies.append(finished - started)
            stats.by_op[op] += 1


def _connection_counter(stats: Stats) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def created(session: Any, context: Any, params: Any) -> None:
        stats.connections_opened += 1

    async def reused(session: Any, context: Any, params: Any) -> None:
        stats.connections_reused += 1

    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace


async def generate(options: Options, base: str, pid: int | None) -> dict[str, Any]:
    """Run the load against base; returns the results (see format_report)."""
    stats = Stats()
    cycle = MIXES[options.mix]
    auth = "Basic " + base64.b64encode(f"{TOKEN}:x".encode()).decode()
    connector = aiohttp.TCPConnector(limit=options.connections, limit_per_host=0,
                                     keepalive_timeout=SERVER_KEEPALIVE, force_close=False)
    samples: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    measure_from = t0 + options.warmup
    stop_at = measure_from + options.duration

    async def sample_rss() -> None:
        next_at = measure_from
        while True:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            if pid is not None:
                samples.append({"t": round(time.perf_counter() - measure_from, 1), "rss_kb": rss_kb(pid),
                                "requests": stats.finished})
            next_at += options.sample_every

    rss_before = rss_kb(pid) if pid else None
    server_cpu_before = cpu_seconds(pid) if pid else None
    client_cpu_before = time.process_time()
    sampler = asyncio.create_task(sample_rss())
    async with aiohttp.ClientSession(
            connector=connector, headers={"Authorization": auth},
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            trace_configs=[_connection_counter(stats)]) as session:
        workers = [asyncio.create_task(_worker(i, session, base, cycle, stats, measure_from, stop_at))
                   for i in range(options.connections)]
        await asyncio.gather(*workers)
        ended = time.perf_counter()
        sampler.cancel()
        rss_after = rss_kb(pid) if pid else None
        server_cpu = cpu_seconds(pid) if pid else None
    client_cpu = time.process_time() - client_cpu_before
    if pid is not None:
        samples.append({"t": round(ended - measure_from, 1), "rss_kb": rss_after, "requests": stats.finished})
    await asyncio.sleep(1.0)  # let the server drop the closed connections
    rss_after_close = rss_kb(pid) if pid else None

    window = max(stats.last_finish, stop_at) - measure_from
    ordered = sorted(stats.latencies)
    measured = len(ordered)
    error_count = sum(stats.errors.values())
    ms = lambda seconds: round(seconds * 1000, 2)  # noqa: E731
    rss_series = [s["rss_kb"] for s in samples if s["rss_kb"] is not None]
    return {
        "options": asdict(options),
        "target": base,
        "mix": {op: f"{cycle.count(op) * 100 / len(cycle):g}%" for op in dict.fromkeys(cycle)},
        "requests": stats.finished,
        "requests_started": stats.started,
        "requests_measured": measured,
        "measured_by_op": dict(stats.by_op),
        "unanswered": stats.started - stats.finished,
        "errors": error_count,
        "errors_by_kind": dict(stats.errors),
        "error_samples": stats.error_samples,
        "tasks_created": stats.created,
        "window_s": round(window, 2),
        "throughput_rps": round(measured / window, 1) if window > 0 else 0.0,
        "latency_ms": {"p50": ms(percentile(ordered, 50)), "p90": ms(percentile(ordered, 90)),
                       "p99": ms(percentile(ordered, 99)), "max": ms(ordered[-1] if ordered else 0.0),
                       "mean": ms(sum(ordered) / measured) if measured else 0.0},
        "connections_opened": stats.connections_opened,
        "connections_reused": stats.connections_reused,
        "requests_per_connection": round(stats.finished / stats.connections_opened, 1)
        if stats.connections_opened else None,
        "server_pid": pid,
        "rss_kb": {"before": rss_before, "after": rss_after, "after_close": rss_after_close},
        "rss_samples": samples,
        "rss_growth_kb": (rss_series[-1] - rss_series[0]) if len(rss_series) >= 2 else None,
        "cpu_s": {"server": round(server_cpu - server_cpu_before, 1)
                  if server_cpu is not None and server_cpu_before is not None else None,
                  "client": round(client_cpu, 1)},
    }


async def run(options: Options) -> dict[str, Any]:
    """The whole load test: raise the fd limit, start the proxy unless --target, load, stop."""
    limits = raise_fd_limit(options.connections)
    if options.target:
        results = await generate(options, options.target.rstrip("/"), options.pid)
        results["fd_limit"] = limits
        return results
    with tempfile.TemporaryDirectory(prefix="capsule-bench-") as workdir:
        server = await Server.start(workdir)
        try:
            results = await generate(options, server.url, server.process.pid)
        finally:
            code = await server.stop()
            tail = server.stderr_tail()
    results["server"] = {"ready_line": server.line, "exit_status": code,
                         "stderr_tail": tail[-1500:] if (code != 0 or results["errors"]) else ""}
    results["fd_limit"] = limits
    return results


# ------------------------------------------------------------------------------------ the report

def _mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def format_report(r: dict[str, Any]) -> str:
    o = r["options"]
    lat, rss = r["latency_ms"], r["rss_kb"]
    lines = [
        f"capsule-proxy load test: {o['connections']} keep-alive connections, {o['warmup']:g} s warm-up "
        f"+ {o['duration']:g} s measured, target {r['target']}",
        "mix per worker (cycle of requests, HTTP Basic tok-phillip:x): "
        + ", ".join(f"{op} {share}" for op, share in r["mix"].items()),
        f"requests: {r['requests']} answered of {r['requests_started']} sent "
        f"({r['requests_measured']} in the measured window; unanswered {r['unanswered']})",
        "  measured by kind: " + ", ".join(f"{op} {n}" for op, n in r["measured_by_op"].items()),
        f"errors: {r['errors']}" + ("" if not r["errors"] else " — " + "; ".join(
            f"{kind} x{n}" for kind, n in r["errors_by_kind"].items())),
        *(f"  e.g. {sample}" for sample in r["error_samples"][:5]),
        f"throughput: {r['throughput_rps']} req/s over {r['window_s']} s",
        f"latency: p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms "
        f"(mean {lat['mean']} ms)",
        "  note: closed-loop generator (each worker waits for its answer before the next request), so "
        "stalls delay the requests that would have been sent meanwhile instead of timing them "
        "(coordinated omission): these percentiles understate what clients arriving at a fixed rate would see.",
        f"connections opened by the client: {r['connections_opened']} for {r['requests']} requests "
        f"({r['requests_per_connection']} requests per connection; {r['connections_reused']} reuses) — "
        + ("keep-alive held" if r["connections_opened"] and r["connections_opened"] <= o["connections"] * 1.1
           else "keep-alive NOT held: connections were reopened"),
        f"tasks created by POSTs (in-memory DB growth): {r['tasks_created']}",
        f"proxy process (pid {r['server_pid']}) RSS: before {_mb(rss['before'])}, after {_mb(rss['after'])}, "
        f"1 s after the client closed its connections {_mb(rss['after_close'])}",
        f"CPU seconds used: server {r['cpu_s']['server']}, load generator {r['cpu_s']['client']} "
        f"(2 cores shared)",
    ]
    if "server" in r:
        lines.append(f"server: {r['server']['ready_line']}; exit status after SIGTERM: {r['server']['exit_status']}")
        if r["server"]["stderr_tail"]:
            lines.append("server stderr (tail):\n" + r["server"]["stderr_tail"])
    if o["soak"] or len(r["rss_samples"]) > 2:
        lines.append(f"RSS series (every {o['sample_every']:g} s from the end of the warm-up):")
        lines += [f"  t={s['t']:>6}s  {_mb(s['rss_kb']):>9}  requests so far {s['requests']}"
                  for s in r["rss_samples"]]
        growth = r["rss_growth_kb"]
        lines.append(f"RSS growth (last - first after warm-up): "
                     f"{'n/a' if growth is None else f'{growth / 1024:+.1f} MB'}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=500, help="concurrent keep-alive connections (500)")
    parser.add_argument("--duration", type=float, default=None,
                        help="measured seconds (30; 300 with --soak)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (3)")
    parser.add_argument("--target", metavar="URL", help="a running proxy; default: start one")
    parser.add_argument("--pid", type=int, help="with --target: the proxy's pid, to read its RSS")
    parser.add_argument("--soak", action="store_true",
                        help="a long run sampling the proxy's RSS every --sample-every seconds")
    parser.add_argument("--sample-every", type=float, default=10.0, help="RSS sampling interval (10 s)")
    parser.add_argument("--mix", choices=sorted(MIXES), default="default",
                        help="default: 80%% GET task, 10%% list, 5%% POST, 5%% PUT; reads: no writes")
    parser.add_argument("--json", dest="json_path", metavar="FILE", help="write the results as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.connections < 1:
        _parser().error("--connections must be at least 1")
    duration = args.duration if args.duration is not None else (300.0 if args.soak else 30.0)
    options = Options(connections=args.connections, duration=duration, warmup=args.warmup,
                      target=args.target, pid=args.pid, soak=args.soak, sample_every=args.sample_every,
                      mix=args.mix, json_path=args.json_path)
    try:
        results = asyncio.run(run(options))
    except RuntimeError as exc:
        print(f"bench.load: {exc}", file=sys.stderr)
        return 2
    print(format_report(results), flush=True)
    if options.json_path:
        Path(options.json_path).write_text(json.dumps(results, indent=2) + "\n")
    failed = results["errors"] or results["unanswered"] or results["requests_measured"] == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
