"""The benchmark suite (issue #5): capsule-proxy against a bare pass-through, in the same run.

    python -m bench.suite [--rounds 3] [--duration 5] [--quick] [--json FILE] [--compare OLD.json]

It starts a canned v2 upstream (bench/canned.py), the proxy (`capsule-proxy serve --upstream
<canned>`, one process), the bare aiohttp pass-through (bench/passthrough.py) and, when it is
installed, nginx with `proxy_pass`; then, for each scenario, it loads proxy and references in
turn for R rounds of D seconds each (the order rotates every round) and reports medians and
ratios, one-connection latencies, `serve --workers 1` vs `--workers 2`, RSS per worker at 1,000
connections and the codec micro-benchmarks (bench/micro.py), each target next to its measured
value. Load comes from wrk (Debian's package) when present, else from a Python asyncio generator
in a separate process. Both are closed-loop: see README.md.

Every process it starts runs in its own session and is stopped (SIGTERM, then SIGKILL of the
whole group) on exit, Ctrl-C, SIGTERM, an error, or when --max-seconds runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TOKEN = "tok-phillip"
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
SCHEMA_VERSION = 1
READY = re.compile(r"listening on (http://\S+)")
RSS_CONNECTIONS = 1000
RSS_LIMIT_MB = 80.0
SERVER_CPU, CLIENT_CPU = 0, 1   # server under test / canned upstream + load generator


def basic(token: str = TOKEN) -> str:
    return "Basic " + base64.b64encode(f"{token}:x".encode()).decode()


def log(line: str = "") -> None:
    print(line, flush=True)


# ============================================================================ the scenarios

@dataclass(frozen=True)
class Req:
    """One request shape, and what a correct answer looks like (checked before loading)."""
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 200
    marker: bytes | None = None            # must appear in the answer body
    location_suffix: str | None = None     # the Location header must end with this


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    connections: int
    proxy: Req
    baseline: Req | None             # what the pass-through (and nginx) get; None: no baseline
    nginx: bool = False
    target: float | None = None      # required proxy/pass-through throughput ratio


XML = (("Content-Type", "application/xml"),)
POST_XML = (b"<task><description>Call Eric about the renewal</description>"
            b"<detail>Bring the signed order form and the revised price list.</detail>"
            b"<category>Call</category><owner>phillip</owner>"
            b"<dueDateTime>2026-04-21T15:00:00Z</dueDateTime></task>")
PUT_XML = (b"<task><description>Call Eric about the renewal, again</description>"
           b"<category>Meeting</category><dueDateTime>2026-04-22T14:30:00Z</dueDateTime></task>")
V2_TASK = Req("GET", "/api/task/10", marker=b'"task"')

SCENARIOS = [
    Scenario("get_task", "GET /api/task/10 (XML)", 32,
             Req("GET", "/api/task/10", marker=b"<partyName>Eric Jones</partyName>"),
             V2_TASK, nginx=True, target=0.85),
    Scenario("get_task_json", "GET /api/task/10 (v1 JSON)", 32,
             Req("GET", "/api/task/10", headers=(("Accept", "application/json"),),
                 marker=b'"partyName":"Eric Jones"'),
             Req("GET", "/api/task/10", headers=(("Accept", "application/json"),), marker=b'"task"')),
    Scenario("post_task", "POST /api/task (XSD, look-ups, Location)", 32,
             Req("POST", "/api/task", POST_XML, XML, status=201, location_suffix="/api/task/1001"),
             Req("POST", "/api/task", POST_XML, XML, status=201, location_suffix="/api/v2/tasks/1001"),
             nginx=True, target=0.80),
    Scenario("put_task", "PUT /api/task/10 (XML)", 32,
             Req("PUT", "/api/task/10", PUT_XML, XML),
             Req("PUT", "/api/task/10", PUT_XML, XML, marker=b'"task"')),
    Scenario("list_window", "GET /api/tasks?start=50&limit=100 (2 pages -> 100 tasks)", 16,
             Req("GET", "/api/tasks?start=50&limit=100", marker=b'<tasks size="100">'),
             Req("GET", "/api/tasks", marker=b'"tasks"'), nginx=True),
    Scenario("party_list", "GET /api/party/1/tasks (scan 1,000 tasks -> 100)", 8,
             Req("GET", "/api/party/1/tasks", marker=b'<tasks size="100">'), None),
]
LATENCY_SCENARIOS = ("get_task", "post_task")
SERVERS = ("proxy", "passthrough", "nginx")


# ============================================================================ processes

def descendants(pid: int) -> list[int]:
    """Every descendant of pid (children of all its threads, recursively)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Proc:
    """A started server: its Popen, its URL once ready, its log file."""

    def __init__(self, name: str, popen: subprocess.Popen, log_path: Path, cpus: set[int] | None):
        self.name, self.popen, self.log_path, self.cpus = name, popen, log_path, cpus
        self.url = ""
        self.ready_line = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tree(self) -> list[int]:
        return [self.pid] + descendants(self.pid)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.tree())

    def workers(self) -> list[int]:
        """The processes that serve requests: `serve --workers N` children (not the
        multiprocessing resource tracker), nginx's worker(s), or the process itself."""
        kids = descendants(self.pid)
        spawned = [pid for pid in kids if "spawn_main" in cmdline(pid)]
        if spawned:
            return spawned
        nginx = [pid for pid in kids if "nginx: worker" in cmdline(pid)]
        return nginx or [self.pid]

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Processes:
    """Starts servers in their own sessions and always stops them all."""

    def __init__(self, workdir: Path, pin: bool):
        self.workdir, self.pin = workdir, pin
        self.started: list[Proc] = []
        self.commands: dict[str, str] = {}     # name -> the command, as a shell would run it

    def start(self, name: str, argv: list[str], *, cpus: set[int] | None = None,
              env: dict[str, str] | None = None, ready: re.Pattern[str] | None = READY,
              ready_port: int | None = None, timeout: float = 60.0) -> Proc:
        log_path = self.workdir / f"{name}.log"
        cpus = cpus if self.pin else None
        self.commands[name] = command_text(argv, cpus, env)
        preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        with open(log_path, "wb") as log_file:
            popen = subprocess.Popen(argv, stdout=subprocess.PIPE if ready else log_file, stderr=log_file,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, env=env,
                                     start_new_session=True, preexec_fn=preexec)
        proc = Proc(name, popen, log_path, cpus)
        self.started.append(proc)
        deadline = time.monotonic() + timeout
        if ready is not None:
            assert popen.stdout is not None
            buffered = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or popen.poll() is not None:
                    raise RuntimeError(f"{name} printed no ready line ({' '.join(argv)}); "
                                       f"stdout {buffered[-500:]!r}; log: {proc.log_tail()}")
                if select.select([popen.stdout], [], [], min(left, 0.5))[0]:
                    chunk = os.read(popen.stdout.fileno(), 4096)
                    buffered += chunk
                    match = ready.search(buffered.decode(errors="replace"))
                    if match:
                        proc.url, proc.ready_line = match[1], buffered.decode(errors="replace").strip()
                        break
            threading.Thread(target=_drain, args=(popen.stdout,), daemon=True).start()
        elif ready_port is not None:
            while not _port_open(ready_port):
                if time.monotonic() > deadline or popen.poll() is not None:
                    raise RuntimeError(f"{name} did not start listening on port {ready_port}: {proc.log_tail()}")
                time.sleep(0.05)
            proc.url = f"http://127.0.0.1:{ready_port}"
        return proc

    def stop(self, proc: Proc, timeout: float = 15.0) -> int | None:
        """SIGTERM to the process group, then SIGKILL; the exit status (None if killed)."""
        if proc in self.started:
            self.started.remove(proc)
        popen = proc.popen
        if popen.poll() is None:
            _signal_group(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait(5)
                return None
        _signal_group(popen.pid, signal.SIGKILL)   # any straggler left in the group
        return popen.returncode

    def stop_all(self) -> None:
        for proc in list(reversed(self.started)):
            try:
                self.stop(proc, timeout=10.0)
            except Exception:       # noqa: BLE001 - cleanup must go on with the others
                pass


def command_text(argv: list[str], cpus: set[int] | None, env: dict[str, str] | None = None) -> str:
    """The command as one would type it: taskset prefix, the settings given by environment."""
    prefix = f"taskset -c {','.join(map(str, sorted(cpus)))} " if cpus else ""
    settings = " ".join(f"{k}={v}" for k, v in (env or {}).items() if k.startswith("CAPSULE_PROXY_"))
    program = [Path(argv[0]).name if argv[0] == PY else argv[0]] + argv[1:]
    return (settings + " " if settings else "") + prefix + " ".join(program)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)     # start_new_session: the group id is the pid
    except (ProcessLookupError, PermissionError):
        pass


def _drain(stream: Any) -> None:
    try:
        while stream.read(65536):
            pass
    except (OSError, ValueError):
        pass


def _port_open(port: int) -> bool:
    import socket
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without CAPSULE_PROXY_* settings from the caller (reproducible runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSULE_PROXY_")}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


PROXY_ENV = {"CAPSULE_PROXY_SERVER_KEEPALIVE_TIMEOUT": "300", "CAPSULE_PROXY_LOG_LEVEL": "warning"}


def nginx_config(workdir: Path, listen: int, upstream: str) -> Path:
    """nginx as a bare reverse proxy: the same path mapping as bench/passthrough.py."""
    up = urlsplit(upstream)
    root = workdir / "nginx"
    for sub in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root / sub, 0o777)
    common = ("proxy_http_version 1.1; proxy_set_header Connection \"\"; "
              "proxy_set_header Authorization \"Bearer tok\"; proxy_set_header Host 127.0.0.1; "
              "proxy_redirect off;")
    text = f"""
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    proxy_buffer_size 16k;
    proxy_buffers 64 16k;
    proxy_max_temp_file_size 0;
    upstream canned {{ server {up.hostname}:{up.port}; keepalive 128; }}
    server {{
        listen 127.0.0.1:{listen} backlog=4096;
        location ~ ^/api/task/([0-9]+)$ {{ {common} proxy_pass http://canned/api/v2/tasks/$1; }}
        location = /api/task {{ {common} proxy_pass http://canned/api/v2/tasks; }}
        location = /api/tasks {{ {common} rewrite ^ /api/v2/tasks?page=1&perPage=100? break;
                                 proxy_pass http://canned; }}
    }}
}}
"""
    path = root / "nginx.conf"
    path.write_text(text)
    return path


# ============================================================================ load generation

def lua_string(data: bytes | str) -> str:
    text = data.decode() if isinstance(data, bytes) else data
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}' .. "\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass
class LoadGen:
    kind: str                      # "wrk" or "python"
    workdir: Path
    pin: bool
    version: str = ""
    registry: Processes | None = None
    last_command: str = ""

    def run(self, base: str, req: Req, connections: int, duration: float, token: str = TOKEN) -> dict[str, Any]:
        headers = {"Authorization": basic(token), **dict(req.headers)}
        if self.kind == "wrk":
            return self._wrk(base, req, headers, connections, duration)
        return self._python(base, req, headers, connections, duration)

    def _spawn(self, argv: list[str], timeout: float) -> tuple[str, float]:
        """Run a load generator to completion (pinned when asked); its stdout and CPU seconds."""
        cpus = {CLIENT_CPU} if self.pin else None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, env=clean_env(),
                                 preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        proc = Proc("loadgen", popen, self.workdir / "loadgen.log", cpus)
        if self.registry is not None:
            self.registry.started.append(proc)
        try:
            out, _ = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(popen.pid, signal.SIGKILL)
            popen.communicate()
            raise RuntimeError(f"the load generator did not finish within {timeout:.0f} s")
        except BaseException:         # Ctrl-C, SIGTERM, --max-seconds: never leave it running
            _signal_group(popen.pid, signal.SIGKILL)
            popen.wait()
            raise
        finally:
            if self.registry is not None and proc in self.registry.started:
                self.registry.started.remove(proc)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return out.decode(errors="replace"), used

    def _wrk(self, base: str, req: Req, headers: dict[str, str], connections: int,
             duration: float) -> dict[str, Any]:
        lines = [f'wrk.method = "{req.method}"']
        for name, value in headers.items():
            lines.append(f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}")
        if req.body is not None:
            lines.append(f"wrk.body = {lua_string(req.body)}")
        script = self.workdir / f"wrk-{uuid.uuid4().hex[:8]}.lua"
        script.write_text("\n".join(lines) + "\n" + WRK_DONE)
        seconds = max(1, round(duration))
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                "-s", str(script), base + req.path]
        self.last_command = command_text(argv, {CLIENT_CPU} if self.pin else None)
        out, cpu = self._spawn(argv, seconds + 60)
        script.unlink(missing_ok=True)
        match = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
        if not match:
            raise RuntimeError(f"wrk gave no result: {out[-800:]}")
        raw = json.loads(match[1])
        return _result(raw, cpu)

    def _python(self, base: str, req: Req, headers: dict[str, str], connections: int,
                duration: float) -> dict[str, Any]:
        spec = {"url": base + req.path, "method": req.method, "headers": headers,
                "body": req.body.decode() if req.body is not None else None,
                "connections": connections, "duration": duration}
        argv = [PY, "-m", "bench.suite", "_loadgen", json.dumps(spec)]
        self.last_command = command_text(argv, {CLIENT_CPU} if self.pin else None)
        out, cpu = self._spawn(argv, duration + 60)
        match = re.search(r"^LOADGEN_JSON (\{.*\})$", out, re.M)
        if not match:
            raise RuntimeError(f"the Python load generator gave no result: {out[-800:]}")
        return _result(json.loads(match[1]), cpu)


def _result(raw: dict[str, Any], loadgen_cpu: float) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return {"requests": raw["requests"], "seconds": round(seconds, 3),
            "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000, "p99_ms": lat["p99"] / 1000,
            "max_ms": lat["max"] / 1000, "errors": raw["errors"],
            "error_count": sum(raw["errors"].values()), "loadgen_cpu_s": round(loadgen_cpu, 2)}


# --- the Python fallback generator (a separate process: python -m bench.suite _loadgen SPEC) ---

def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    close = b"\r\nconnection: close" in lower
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", lower)
    if match:
        await reader.readexactly(int(match[1]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif status not in (204, 304) and not 100 <= status < 200:
        await reader.read()
        close = True
    return status, close


async def _loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    target = url.path + (f"?{url.query}" if url.query else "")
    body = spec["body"].encode() if spec["body"] is not None else b""
    head = [f"{spec['method']} {target} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{k}: {v}" for k, v in spec["headers"].items()]
    if spec["body"] is not None or spec["method"] in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    received = [0]
    started = time.perf_counter()
    deadline = started + spec["duration"]

    async def connection() -> None:
        reader = writer = None
        while time.perf_counter() < deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
                except (OSError, asyncio.TimeoutError):
                    errors["connect"] += 1
                    await asyncio.sleep(0.05)
                    continue
            begin = time.perf_counter()
            try:
                writer.write(request)
                status, close = await asyncio.wait_for(_read_answer(reader), 10)
            except asyncio.TimeoutError:
                errors["timeout"] += 1
                close = True
                status = 0
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors["read"] += 1
                close = True
                status = 0
            if status:
                end = time.perf_counter()
                if end <= deadline:
                    latencies.append(end - begin)
                    received[0] += 1
                    if status >= 400:
                        errors["status"] += 1
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(spec["connections"])))
    ordered = sorted(latencies)
    us = lambda s: int(s * 1e6)  # noqa: E731
    return {"requests": received[0], "duration_us": us(spec["duration"]), "bytes": 0, "errors": errors,
            "latency_us": {"p50": us(_percentile(ordered, 50)), "p90": us(_percentile(ordered, 90)),
                           "p99": us(_percentile(ordered, 99)), "max": us(ordered[-1] if ordered else 0),
                           "mean": us(sum(ordered) / len(ordered)) if ordered else 0}}


# ============================================================================ checks and counts

def http_request(base: str, req: Req, token: str = TOKEN,
                 conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(base)
    own = conn is None
    conn = conn or http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        headers = {"Authorization": basic(token), **dict(req.headers)}
        conn.request(req.method, req.path, body=req.body, headers=headers)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        if own:
            conn.close()


def smoke(base: str, req: Req) -> str | None:
    """None when the server answers req correctly, else what was wrong."""
    try:
        status, headers, body = http_request(base, req)
    except OSError as exc:
        return f"no answer: {exc}"
    if status != req.status:
        return f"status {status} (expected {req.status}): {body[:300]!r}"
    if req.marker is not None and req.marker not in body:
        return f"the answer lacks {req.marker!r}: {body[:300]!r}"
    if req.location_suffix is not None and not headers.get("location", "").endswith(req.location_suffix):
        return f"Location {headers.get('location')!r} does not end with {req.location_suffix!r}"
    return None


def canned_stats(canned: str, reset: bool = True) -> dict[str, Any]:
    url = urlsplit(canned)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", "/_stats?reset=1" if reset else "/_stats")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def count_calls(canned: str, base: str, req: Req, repeat: int = 5) -> dict[str, Any]:
    """Upstream calls per v1 request: the first with a fresh token (cold look-up caches), then
    the mean of `repeat` more with the same token (warm)."""
    token = f"tok-bench-{uuid.uuid4().hex[:12]}"
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        canned_stats(canned)
        http_request(base, req, token, conn)
        cold = canned_stats(canned)
        for _ in range(repeat):
            http_request(base, req, token, conn)
        warm = canned_stats(canned)
    finally:
        conn.close()
    return {"cold": cold["total"], "cold_by_kind": cold["calls"],
            "warm": round(warm["total"] / repeat, 2),
            "warm_by_kind": {k: round(v / repeat, 2) for k, v in warm["calls"].items()}}


# ============================================================================ the runs

@dataclass
class Context:
    args: argparse.Namespace
    procs: Processes
    gen: LoadGen
    canned: Proc
    pin: bool
    results: dict[str, Any] = field(default_factory=dict)


def cpu_busy() -> dict[int, float]:
    """Busy seconds per CPU since boot (all but idle and iowait; steal included), from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    busy = {}
    try:
        with open("/proc/stat") as handle:
            for line in handle:
                if line.startswith("cpu") and line[3].isdigit():
                    name, *values = line.split()
                    ticks = [int(v) for v in values[:8]]     # user nice system idle iowait irq softirq steal
                    busy[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    except (OSError, ValueError):
        pass
    return busy


def measured_run(ctx: Context, server: Proc, req: Req, connections: int, duration: float) -> dict[str, Any]:
    """One load run, with the cores busy during it: the server, the canned upstream, the load
    generator, and other work (on the server's CPU when pinned, else on all CPUs)."""
    server_before, canned_before, busy_before = server.cpu(), ctx.canned.cpu(), cpu_busy()
    started = time.monotonic()
    result = ctx.gen.run(server.url, req, connections, duration)
    wall = time.monotonic() - started
    busy_after = cpu_busy()
    result["server_cpu"] = round((server.cpu() - server_before) / wall, 2)     # cores busy
    result["canned_cpu"] = round((ctx.canned.cpu() - canned_before) / wall, 2)
    result["loadgen_cpu"] = round(result.pop("loadgen_cpu_s") / wall, 2)
    if server.cpus:
        cpus, ours = server.cpus, result["server_cpu"]
    else:
        cpus, ours = set(busy_after), result["server_cpu"] + result["canned_cpu"] + result["loadgen_cpu"]
    spent = sum(busy_after.get(c, 0.0) - busy_before.get(c, 0.0) for c in cpus) / wall
    result["other_cpu"] = round(max(0.0, spent - ours), 2)
    result["rps_per_cpu"] = round(result["rps"] / result["server_cpu"], 1) if result["server_cpu"] > 0 else 0.0
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    if not runs:
        return {}
    med = lambda key: round(statistics.median(r[key] for r in runs), 3)  # noqa: E731
    return {"rps": round(statistics.median(r["rps"] for r in runs), 1), "p50_ms": med("p50_ms"),
            "p90_ms": med("p90_ms"), "p99_ms": med("p99_ms"), "errors": sum(r["error_count"] for r in runs),
            "requests": sum(r["requests"] for r in runs), "server_cpu": med("server_cpu"),
            "canned_cpu": med("canned_cpu"), "loadgen_cpu": med("loadgen_cpu"), "other_cpu": med("other_cpu"),
            "rps_per_cpu": med("rps_per_cpu"),
            "rps_min": min(r["rps"] for r in runs), "rps_max": max(r["rps"] for r in runs)}


def alternate(ctx: Context, label: str, entries: list[tuple[str, Proc, Req]], connections: int,
              duration: float, rounds: int, warmup: float) -> dict[str, dict[str, Any]]:
    """Warm each server up once, then R rounds; the order rotates every round."""
    out: dict[str, dict[str, Any]] = {name: {"runs": []} for name, _, _ in entries}
    if warmup > 0:
        for name, server, req in entries:
            ctx.gen.run(server.url, req, connections, warmup)
    for number in range(rounds):
        shift = number % len(entries)
        order = entries[shift:] + entries[:shift]
        for name, server, req in order:
            result = measured_run(ctx, server, req, connections, duration)
            result["round"] = number + 1
            out[name]["runs"].append(result)
            log(f"    {label:<15} round {number + 1}/{rounds}  {name:<12} {result['rps']:>9,.0f} req/s  "
                f"p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms  errors {result['error_count']}"
                f"  cpu srv {result['server_cpu']:.2f} up {result['canned_cpu']:.2f} gen {result['loadgen_cpu']:.2f}"
                f" other {result['other_cpu']:.2f}")
    for name in out:
        out[name]["median"] = summarise(out[name]["runs"])
    return out


def run_scenarios(ctx: Context, servers: dict[str, Proc | None]) -> dict[str, Any]:
    args = ctx.args
    results: dict[str, Any] = {}
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        log(f"  scenario {scenario.name}: {scenario.title}, {scenario.connections} connections")
        entries: list[tuple[str, Proc, Req]] = []
        problems: dict[str, str] = {}
        wanted = [("proxy", scenario.proxy)]
        if scenario.baseline is not None:
            wanted.append(("passthrough", scenario.baseline))
            if scenario.nginx:
                wanted.append(("nginx", scenario.baseline))
        for name, req in wanted:
            server = servers.get(name)
            if server is None:
                continue
            problem = smoke(server.url, req)
            if problem:
                problems[name] = problem
                log(f"    {name}: WRONG ANSWER, not measured: {problem}")
            else:
                entries.append((name, server, req))
        calls = {}
        for name, server, req in entries:
            if name in ("proxy", "passthrough"):
                calls[name] = count_calls(ctx.canned.url, server.url, req)
        try:
            runs = alternate(ctx, scenario.name, entries, scenario.connections, args.duration, args.rounds,
                             args.warmup) if entries else {}
        except RuntimeError as exc:       # e.g. the load generator failed: keep the other scenarios
            log(f"    FAILED: {exc}")
            problems["run"] = str(exc)[:500]
            runs = {}
        entry: dict[str, Any] = {"title": scenario.title, "connections": scenario.connections,
                                 "servers": runs, "upstream_calls": calls, "problems": problems,
                                 "target": scenario.target}
        proxy = runs.get("proxy", {}).get("median", {})
        for ref in ("passthrough", "nginx"):
            other = runs.get(ref, {}).get("median", {})
            if proxy.get("rps") and other.get("rps"):
                entry[f"ratio_vs_{ref}"] = round(proxy["rps"] / other["rps"], 3)
            if proxy.get("rps_per_cpu") and other.get("rps_per_cpu"):
                entry[f"cpu_ratio_vs_{ref}"] = round(proxy["rps_per_cpu"] / other["rps_per_cpu"], 3)
        results[scenario.name] = entry
    return results


def run_latency(ctx: Context, servers: dict[str, Proc | None]) -> dict[str, Any]:
    """One connection: the latency one proxy hop adds over the bare pass-through."""
    args = ctx.args
    results: dict[str, Any] = {}
    duration = min(args.duration, 3.0)
    for scenario in SCENARIOS:
        if scenario.name not in LATENCY_SCENARIOS or (args.only and scenario.name not in args.only):
            continue
        entries = [(name, servers[name], req) for name, req in
                   (("proxy", scenario.proxy), ("passthrough", scenario.baseline))
                   if servers.get(name) is not None and req is not None and smoke(servers[name].url, req) is None]
        if len(entries) < 2:
            continue
        log(f"  one connection: {scenario.name}")
        runs = alternate(ctx, f"{scenario.name}@c1", entries, 1, duration, args.rounds, 0)
        proxy, base = runs["proxy"]["median"], runs["passthrough"]["median"]
        results[scenario.name] = {"servers": runs, "duration": duration,
                                  "added_p50_ms": round(proxy["p50_ms"] - base["p50_ms"], 3),
                                  "added_p99_ms": round(proxy["p99_ms"] - base["p99_ms"], 3)}
    return results


def start_proxy(ctx: Context, name: str, workers: int, cpus: set[int] | None) -> Proc:
    argv = [PY, "-m", "proxy", "serve", "--upstream", ctx.canned.url, "--port", "0"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return ctx.procs.start(name, argv, cpus=cpus, env=clean_env(**PROXY_ENV))


def run_workers(ctx: Context) -> dict[str, Any]:
    """`serve --workers 1` vs `--workers 2`, nothing pinned: the two cores are shared by the
    workers, the canned upstream and the load generator alike."""
    args = ctx.args
    scenario = SCENARIOS[0]
    log(f"  workers scaling: {scenario.title}, 64 connections, nothing pinned")
    if ctx.pin:
        os.sched_setaffinity(ctx.canned.pid, set(range(os.cpu_count() or 1)))
    gen_pin, ctx.gen.pin = ctx.gen.pin, False
    w1 = start_proxy(ctx, "proxy-w1", 1, None)
    w2 = start_proxy(ctx, "proxy-w2", 2, None)
    try:
        for proc in (w1, w2):
            problem = smoke(proc.url, scenario.proxy)
            if problem:
                raise RuntimeError(f"{proc.name} answers wrongly: {problem}")
        runs = alternate(ctx, "workers", [("1 worker", w1, scenario.proxy), ("2 workers", w2, scenario.proxy)],
                         64, args.duration, args.rounds, args.warmup)
        one, two = runs["1 worker"]["median"], runs["2 workers"]["median"]
        result = {"servers": runs, "ratio": round(two["rps"] / one["rps"], 3) if one.get("rps") else None,
                  "ready_lines": [w1.ready_line, w2.ready_line]}
        result["rss"] = run_rss(ctx, {"1 worker": w1, "2 workers": w2}) if "rss" not in args.skip else {}
        return result
    finally:
        ctx.gen.pin = gen_pin
        for proc in (w2, w1):
            ctx.procs.stop(proc)
        if ctx.pin:
            os.sched_setaffinity(ctx.canned.pid, {CLIENT_CPU})


async def _hold_idle(base: str, count: int, settle: float, sample: Callable[[], None]) -> dict[str, Any]:
    """Open `count` keep-alive connections, one GET on each, then hold them idle and sample."""
    url = urlsplit(base)
    request = (f"GET /api/task/10 HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
               f"Authorization: {basic()}\r\n\r\n").encode()
    writers: list[asyncio.StreamWriter] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, url.port), 15)
            writers.append(writer)
            writer.write(request)
            status, _ = await asyncio.wait_for(_read_answer(reader), 30)
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


def run_rss(ctx: Context, servers: dict[str, Proc]) -> dict[str, Any]:
    """RSS of each worker at 1,000 connections: held idle, then all busy (wrk -c1000)."""
    args = ctx.args
    results: dict[str, Any] = {}
    for label, proc in servers.items():
        workers = proc.workers()
        before = {pid: rss_kb(pid) for pid in workers}
        peak = {pid: 0 for pid in workers}
        fds = {pid: 0 for pid in workers}

        def sample() -> None:
            for pid in workers:
                peak[pid] = max(peak[pid], rss_kb(pid) or 0)
                fds[pid] = max(fds[pid], open_fds(pid) or 0)

        log(f"  RSS at {RSS_CONNECTIONS} connections: {label} (workers {workers})")
        # Not asyncio.run: its SIGINT handling would turn Ctrl-C into a cancellation here.
        loop = asyncio.new_event_loop()
        try:
            idle = loop.run_until_complete(_hold_idle(proc.url, RSS_CONNECTIONS, min(2.0, args.duration), sample))
        finally:
            loop.close()
        idle_peak, idle_fds = dict(peak), dict(fds)
        peak = {pid: 0 for pid in workers}
        fds = {pid: 0 for pid in workers}
        stop = threading.Event()

        def sampler() -> None:
            while not stop.is_set():
                sample()
                stop.wait(0.25)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        try:
            active = ctx.gen.run(proc.url, SCENARIOS[0].proxy, RSS_CONNECTIONS, args.duration)
        finally:
            stop.set()
            thread.join()
        mb = lambda kb: round((kb or 0) / 1024, 1)  # noqa: E731
        results[label] = {
            "workers": workers,
            "before_mb": {str(p): mb(v) for p, v in before.items()},
            "idle_mb": {str(p): mb(v) for p, v in idle_peak.items()},
            "idle_fds": {str(p): v for p, v in idle_fds.items()},
            "idle_client": idle,
            "active_mb": {str(p): mb(v) for p, v in peak.items()},
            "active_fds": {str(p): v for p, v in fds.items()},
            "active_rps": active["rps"], "active_p99_ms": active["p99_ms"],
            "active_errors": active["errors"],
            "max_mb": max([mb(v) for v in idle_peak.values()] + [mb(v) for v in peak.values()]),
        }
        log(f"    {label}: max RSS per worker {results[label]['max_mb']} MB (idle {results[label]['idle_mb']}, "
            f"busy {results[label]['active_mb']}), busy {active['rps']:,.0f} req/s, errors {sum(active['errors'].values())}")
    return results


def run_micro(ctx: Context) -> dict[str, Any]:
    """bench/micro.py in this process, pinned to the server CPU while it runs."""
    from . import micro
    log("  micro-benchmarks (codec path, no HTTP)")
    original = os.sched_getaffinity(0)
    try:
        if ctx.pin:
            os.sched_setaffinity(0, {SERVER_CPU})
        return micro.run_all(7 if ctx.args.quick else 15)
    finally:
        os.sched_setaffinity(0, original)


# ============================================================================ targets and report

def build_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: float | None, required: float, unit: str, higher_is_better: bool,
            note: str = "") -> None:
        if measured is None:
            verdict = "N/A"
        else:
            verdict = "PASS" if (measured >= required if higher_is_better else measured <= required) else "MISS"
        by = None
        if measured is not None and verdict == "MISS":
            by = round(required - measured if higher_is_better else measured - required, 3)
        targets.append({"target": name, "measured": measured, "required": required, "unit": unit,
                        "rule": ">=" if higher_is_better else "<=", "verdict": verdict, "short_by": by,
                        "note": note})

    scenarios = results.get("scenarios", {})

    def per_cpu(name: str) -> str:
        ratio = scenarios.get(name, {}).get("cpu_ratio_vs_passthrough")
        return f"per server core-second: {ratio:g}x" if ratio else ""

    add("GET one task throughput / pass-through", scenarios.get("get_task", {}).get("ratio_vs_passthrough"),
        0.85, "x", True, per_cpu("get_task"))
    add("POST task throughput / pass-through", scenarios.get("post_task", {}).get("ratio_vs_passthrough"),
        0.80, "x", True, per_cpu("post_task"))
    latency = results.get("latency", {}).get("get_task", {})
    add("added p50 latency at 1 connection (GET)", latency.get("added_p50_ms"), 0.5, "ms", False)
    micro = results.get("micro", {}).get("results", {})
    add("codec: parse + validate + translate one task",
        micro.get("xml_task_decode_translate", {}).get("us_per_op"), 20.0, "µs", False)
    add("100-task XML list: translate + render",
        micro.get("xml_list100_translate_render", {}).get("us_per_op"), 1000.0, "µs", False,
        f"render only: {micro['xml_list100_render']['us_per_op']} µs" if "xml_list100_render" in micro else "")
    workers = results.get("workers", {})
    cores = ""
    if workers.get("servers"):
        one, two = workers["servers"]["1 worker"]["median"], workers["servers"]["2 workers"]["median"]
        cores = (f"proxy cores busy {one['server_cpu']:g} -> {two['server_cpu']:g}; other work "
                 f"{one['other_cpu']:g} / {two['other_cpu']:g}")
    add("serve --workers 2 / --workers 1 throughput", workers.get("ratio"), 1.7, "x", True, cores)
    rss = workers.get("rss", {})
    add("RSS per worker at 1,000 connections (--workers 2)", rss.get("2 workers", {}).get("max_mb"),
        RSS_LIMIT_MB, "MB", False,
        f"one process holding all 1,000: {rss['1 worker']['max_mb']} MB" if "1 worker" in rss else "")
    return targets


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def format_report(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = ["", "=" * 118,
             f"capsule-proxy benchmark  {results['started']}  ({results['settings']['rounds']} rounds x "
             f"{results['settings']['duration']:g} s per server, medians; load avg before "
             f"{env['loadavg_before']}, after {env.get('loadavg_after')})",
             f"load generator: {env['loadgen']}; pinning: {env['pinning']}",
             f"references: pass-through = bench/passthrough.py (aiohttp, 1 process); nginx: {env['nginx']}",
             "=" * 118]
    head = (f"{'scenario':<14} {'server':<11} {'conns':>5} {'req/s':>7} {'min-max':>12} {'p50 ms':>7} "
            f"{'p90 ms':>7} {'p99 ms':>7} {'err':>4} {'cpu srv/up/gen/oth':>19} {'ratio':>6} {'/cpu':>6}"
            f"  upstream calls/req")
    lines.append(head)
    lines.append("-" * len(head))
    for name, entry in results.get("scenarios", {}).items():
        first = True
        for server in SERVERS:
            data = entry["servers"].get(server)
            if data is None:
                if server in entry["problems"]:
                    lines.append(f"{name if first else '':<15} {server:<12} WRONG ANSWER: {entry['problems'][server][:80]}")
                    first = False
                continue
            m = data["median"]
            ratio = per_cpu = ""
            if server == "proxy":
                r, c = entry.get("ratio_vs_passthrough"), entry.get("cpu_ratio_vs_passthrough")
                ratio, per_cpu = (f"{r:.2f}x" if r else "n/a"), (f"{c:.2f}x" if c else "")
            elif server == "nginx":
                r, c = entry.get("ratio_vs_nginx"), entry.get("cpu_ratio_vs_nginx")
                ratio, per_cpu = (f"({r:.2f})" if r else ""), (f"({c:.2f})" if c else "")
            calls = entry["upstream_calls"].get(server)
            calls_text = f"cold {calls['cold']}, warm {calls['warm']:g}" if calls else ""
            spread = f"{m['rps_min']:,.0f}-{m['rps_max']:,.0f}"
            cpu = f"{m['server_cpu']:.2f}/{m['canned_cpu']:.2f}/{m['loadgen_cpu']:.2f}/{m['other_cpu']:.2f}"
            lines.append(f"{name if first else '':<14} {server:<11} {entry['connections']:>5} {m['rps']:>7,.0f} "
                         f"{spread:>12} {m['p50_ms']:>7.2f} {m['p90_ms']:>7.2f} {m['p99_ms']:>7.2f} "
                         f"{m['errors']:>4} {cpu:>19} {ratio:>6} {per_cpu:>6}  {calls_text}")
            first = False
    lines.append("  ratio = proxy req/s / pass-through req/s; /cpu = the same per core-second the server used "
                 "(req/s / its cpu); in brackets on nginx rows: proxy / nginx.")
    lines.append("  cpu = cores busy during the run: server, canned upstream, load generator, and other work on "
                 "the server's CPU (processes that are not part of the benchmark).")
    detail = [(n, e["upstream_calls"]["proxy"]) for n, e in results.get("scenarios", {}).items()
              if e["upstream_calls"].get("proxy") and n in ("list_window", "party_list")]
    for name, calls in detail:
        lines.append(f"  upstream calls per v1 request, {name} (proxy, warm): "
                     + ", ".join(f"{k} {v:g}" for k, v in calls["warm_by_kind"].items())
                     + "; cold: " + ", ".join(f"{k} {v}" for k, v in calls["cold_by_kind"].items()))
    latency = results.get("latency", {})
    if latency:
        lines += ["", "one connection (c=1): median p50 / p99, ms"]
        for name, entry in latency.items():
            p, b = entry["servers"]["proxy"]["median"], entry["servers"]["passthrough"]["median"]
            lines.append(f"  {name:<13} proxy {p['p50_ms']:.3f} / {p['p99_ms']:.3f} ({p['rps']:,.0f} req/s)   "
                         f"pass-through {b['p50_ms']:.3f} / {b['p99_ms']:.3f} ({b['rps']:,.0f} req/s)   "
                         f"added p50 {entry['added_p50_ms']:+.3f} ms, p99 {entry['added_p99_ms']:+.3f} ms   "
                         f"(other work on the server CPU: {p['other_cpu']:.2f} / {b['other_cpu']:.2f})")
    workers = results.get("workers", {})
    if workers.get("servers"):
        lines += ["", "serve --workers (GET one task, 64 connections, nothing pinned: workers, canned upstream "
                  "and wrk share both cores)"]
        for label, data in workers["servers"].items():
            m = data["median"]
            lines.append(f"  {label:<10} {m['rps']:>9,.0f} req/s  p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms  "
                         f"errors {m['errors']}  cores busy: proxy {m['server_cpu']:.2f}, upstream "
                         f"{m['canned_cpu']:.2f}, generator {m['loadgen_cpu']:.2f}, other work {m['other_cpu']:.2f} "
                         f"(of {results['environment']['cpus']})")
        lines.append(f"  ratio 2/1: {workers['ratio']}")
    rss = workers.get("rss", {})
    if rss:
        lines += ["", f"RSS per worker (VmRSS, MB) at {RSS_CONNECTIONS} connections"]
        for label, data in rss.items():
            lines.append(f"  {label:<10} before {data['before_mb']}  idle {data['idle_mb']} (fds {data['idle_fds']}, "
                         f"client opened {data['idle_client']['opened']}, failed {data['idle_client']['failures']})  "
                         f"busy {data['active_mb']} (fds {data['active_fds']}, {data['active_rps']:,.0f} req/s, "
                         f"p99 {data['active_p99_ms']:.0f} ms, errors {sum(data['active_errors'].values())})")
    micro = results.get("micro")
    if micro:
        from .micro import format_table
        lines += ["", format_table(micro)]
    lines += ["", "TARGETS", f"  {'target':<52} {'measured':>12} {'required':>12}  verdict"]
    for t in results["targets"]:
        measured = "-" if t["measured"] is None else f"{t['measured']:g} {t['unit']}"
        required = f"{t['rule']} {t['required']:g} {t['unit']}"
        short = f" (by {t['short_by']:g} {t['unit']})" if t["short_by"] is not None else ""
        note = f"  [{t['note']}]" if t["note"] else ""
        lines.append(f"  {t['target']:<52} {measured:>12} {required:>12}  {t['verdict']}{short}{note}")
    lines += ["", "COMMANDS (ports are ephemeral)"] + [f"  {name}: {text}" for name, text in
                                                        results.get("commands", {}).items()]
    lines += ["", "NOTES"] + [f"  - {note}" for note in results["notes"]]
    return "\n".join(lines)


def format_compare(old: dict[str, Any], new: dict[str, Any], old_path: str) -> str:
    lines = ["", f"COMPARED WITH {old_path} ({old.get('started')})",
             f"  {'scenario':<15} {'server':<12} {'req/s old':>10} {'req/s new':>10} {'Δ':>8} "
             f"{'p50 old':>8} {'p50 new':>8} {'Δ':>8}"]
    for name, entry in new.get("scenarios", {}).items():
        before = old.get("scenarios", {}).get(name, {})
        for server, data in entry["servers"].items():
            o = before.get("servers", {}).get(server, {}).get("median")
            n = data["median"]
            if not o or not n:
                continue
            d_rps = (n["rps"] / o["rps"] - 1) * 100 if o["rps"] else 0
            d_p50 = (n["p50_ms"] / o["p50_ms"] - 1) * 100 if o["p50_ms"] else 0
            lines.append(f"  {name:<15} {server:<12} {o['rps']:>10,.0f} {n['rps']:>10,.0f} {d_rps:>+7.1f}% "
                         f"{o['p50_ms']:>8.2f} {n['p50_ms']:>8.2f} {d_p50:>+7.1f}%")
    om, nm = old.get("micro", {}).get("results", {}), new.get("micro", {}).get("results", {})
    for name, row in nm.items():
        if name in om and om[name]["us_per_op"]:
            change = (row["us_per_op"] / om[name]["us_per_op"] - 1) * 100
            lines.append(f"  micro {name:<34} {om[name]['us_per_op']:>10.2f} -> {row['us_per_op']:>10.2f} µs "
                         f"{change:>+7.1f}%")
    old_targets = {t["target"]: t for t in old.get("targets", [])}
    for t in new.get("targets", []):
        o = old_targets.get(t["target"])
        if o:
            lines.append(f"  target {t['target']:<52} {_num(o['measured'], '{:g}'):>9} -> "
                         f"{_num(t['measured'], '{:g}'):>9} {t['unit']:<3} {o['verdict']} -> {t['verdict']}")
    return "\n".join(lines)


# ============================================================================ main

def detect_loadgen(choice: str) -> tuple[str, str]:
    wrk = shutil.which("wrk")
    if choice == "python" or (choice == "auto" and not wrk):
        why = "" if choice == "python" else " (wrk not found: apt-get install wrk)"
        return "python", f"Python asyncio generator, separate process{why}"
    if not wrk:
        raise SystemExit("bench.suite: --loadgen wrk, but wrk is not installed (apt-get install wrk)")
    try:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
        version = (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0].strip()
    except (OSError, subprocess.TimeoutExpired, IndexError):
        version = "wrk"
    return "wrk", f"{version}, 1 thread, closed loop"


def install_tools() -> list[str]:
    """--install-tools: apt-get install wrk and nginx-light when missing (root only), once."""
    notes = []
    missing = [pkg for pkg, binary in (("wrk", "wrk"), ("nginx-light", "nginx")) if not shutil.which(binary)]
    if not missing:
        return notes
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return [f"could not install {', '.join(missing)}: needs root and apt-get"]
    for pkg in missing:
        try:
            done = subprocess.run(["apt-get", "install", "-y", "-q", pkg], capture_output=True, text=True,
                                  timeout=300, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            notes.append(f"apt-get install {pkg}: {'ok' if done.returncode == 0 else 'failed: ' + done.stderr[-200:]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            notes.append(f"apt-get install {pkg}: failed ({exc})")
    return notes


def start_nginx(procs: Processes, workdir: Path, canned: str, pin: bool) -> tuple[Proc | None, str]:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        return None, "not installed (apt-get install nginx-light; or run with --install-tools): skipped"
    try:
        version = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10).stderr.strip()
        port = free_port()
        config = nginx_config(workdir, port, canned)
        proc = procs.start("nginx", [binary, "-p", str(config.parent), "-c", str(config), "-e",
                                     str(config.parent / "error.log")],
                           cpus={SERVER_CPU}, ready=None, ready_port=port, timeout=15)
        return proc, f"{version}, 1 worker process, proxy_pass with upstream keepalive 128"
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return None, f"could not be started ({exc}): skipped"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds per scenario and server (3)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (5)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of warm-up per server (1)")
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s (a smoke run, noisy)")
    parser.add_argument("--json", default=str(DEFAULT_JSON), metavar="FILE",
                        help="write the results here (default bench/results/latest.json; the file "
                             "it replaces is kept as *.previous.json)")
    parser.add_argument("--compare", metavar="OLD.json", help="print the changes against an earlier run")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk when installed, else the Python generator")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--only", type=lambda s: set(s.split(",")), default=set(),
                        help="comma-separated scenario names (" + ",".join(s.name for s in SCENARIOS) + ")")
    parser.add_argument("--skip", type=lambda s: set(s.split(",")), default=set(),
                        help="comma-separated phases to skip: scenarios,latency,workers,rss,micro,nginx")
    parser.add_argument("--install-tools", action="store_true",
                        help="apt-get install wrk and nginx-light first when missing (root)")
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="stop everything and exit after this long (900)")
    return parser


def guarded(what: str, notes: list[str], function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one phase; a failure becomes a note (and an empty result), not the end of the run."""
    try:
        return function(*args)
    except (RuntimeError, OSError, AssertionError, ValueError) as exc:
        log(f"    {what} FAILED: {type(exc).__name__}: {exc}")
        notes.append(f"{what} failed: {type(exc).__name__}: {str(exc)[:300]}")
        return {}


def _on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_loadgen"]:
        result = asyncio.run(_loadgen(json.loads(argv[1])))
        print("LOADGEN_JSON " + json.dumps(result), flush=True)
        return 0
    args = _parser().parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else 1.0
    if args.rounds < 1 or args.duration < 1:
        _parser().error("--rounds and --duration must be at least 1")
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even when started with SIGINT ignored
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _on_signal)
    signal.alarm(int(args.max_seconds))

    notes: list[str] = []
    if args.install_tools:
        notes += install_tools()
    cpus = os.sched_getaffinity(0)
    pin = not args.no_pin and {SERVER_CPU, CLIENT_CPU} <= cpus
    kind, gen_text = detect_loadgen(args.loadgen)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * RSS_CONNECTIONS + 1024
    if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    pinning = (f"server under test on CPU {SERVER_CPU}; canned upstream and {kind} on CPU {CLIENT_CPU} "
               f"(sched_setaffinity, as taskset -c); workers/RSS phases unpinned") if pin else \
        f"none ({'--no-pin' if args.no_pin else f'CPUs available: {sorted(cpus)}'})"
    started = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "started": started,
        "settings": {"rounds": args.rounds, "duration": args.duration, "warmup": args.warmup,
                     "quick": args.quick, "only": sorted(args.only), "skip": sorted(args.skip)},
        "environment": {"cpus": os.cpu_count(), "affinity": sorted(cpus), "python": platform.python_version(),
                        "platform": platform.platform(), "loadavg_before": _loadavg(),
                        "loadgen": gen_text, "pinning": pinning, "nginx": "not used"},
    }
    try:
        import aiohttp
        import lxml.etree
        results["environment"]["versions"] = {"aiohttp": aiohttp.__version__,
                                              "lxml": ".".join(map(str, lxml.etree.LXML_VERSION))}
    except ImportError:
        pass

    clock = time.monotonic()
    log(f"bench.suite: {args.rounds} round(s) x {args.duration:g} s per server and scenario; "
        f"load generator {gen_text}; pinning: {pinning}")
    with tempfile.TemporaryDirectory(prefix="capsule-suite-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir, pin)
        gen = LoadGen(kind, workdir, pin, registry=procs)
        try:
            if "micro" not in args.skip:
                results["micro"] = guarded("micro-benchmarks", notes, run_micro,
                                           Context(args, procs, gen, None, pin))  # type: ignore[arg-type]
            canned = procs.start("canned", [PY, "-m", "bench.canned", "--port", "0"], cpus={CLIENT_CPU},
                                 env=clean_env())
            ctx = Context(args, procs, gen, canned, pin, results)
            log(f"  {canned.ready_line}")
            servers: dict[str, Proc | None] = {}
            needs_servers = not {"scenarios", "latency"} <= args.skip
            if needs_servers:
                servers["proxy"] = start_proxy(ctx, "proxy", 1, {SERVER_CPU})
                log(f"  {servers['proxy'].ready_line}")
                servers["passthrough"] = procs.start(
                    "passthrough", [PY, "-m", "bench.passthrough", "--port", "0", "--upstream", canned.url],
                    cpus={SERVER_CPU}, env=clean_env())
                log(f"  {servers['passthrough'].ready_line}")
                if "nginx" not in args.skip:
                    servers["nginx"], results["environment"]["nginx"] = start_nginx(procs, workdir, canned.url, pin)
                    log(f"  nginx: {results['environment']['nginx']}")
            if "scenarios" not in args.skip:
                results["scenarios"] = run_scenarios(ctx, servers)
            if "latency" not in args.skip:
                results["latency"] = guarded("one-connection latency", notes, run_latency, ctx, servers)
            for name in ("nginx", "passthrough", "proxy"):
                if servers.get(name) is not None:
                    code = procs.stop(servers[name])
                    if name == "proxy":
                        results["environment"]["proxy_exit_status"] = code
            if "workers" not in args.skip:
                results["workers"] = guarded("workers scaling", notes, run_workers, ctx)
            elif "rss" not in args.skip:
                w2 = start_proxy(ctx, "proxy-w2", 2, None)
                results["workers"] = {"rss": guarded("RSS", notes, run_rss, ctx, {"2 workers": w2})}
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
    results["environment"]["loadavg_after"] = _loadavg()
    results["elapsed_s"] = round(time.monotonic() - clock, 1)
    results["targets"] = build_targets(results)
    notes += [
        f"wall time {results['elapsed_s']:.0f} s on {os.cpu_count()} CPUs; other work on the machine shows in "
        f"the load averages: compare the ratios (same run, alternating rounds), not absolute req/s.",
        "Closed loop: each connection sends its next request only after the previous answer "
        "(wrk and the Python generator alike), so stalls are not timed (coordinated omission); "
        "p99 understates what clients arriving at a fixed rate would see.",
        "The pass-through and nginx copy the v2 body back untranslated (no XML, no validation, no look-ups); "
        "their list baseline fetches one 100-task page where the proxy's window needs two.",
        "Upstream calls: 'cold' is the first request with a fresh token (look-up caches empty), 'warm' the mean "
        "of the next 5 (counted by the canned upstream's /_stats).",
        "RSS is VmRSS (shared library pages included, so per-worker figures overlap).",
    ]
    for name, entry in results.get("scenarios", {}).items():
        starved = [f"{server} got {m['server_cpu']:.2f} of a core while other work took {m['other_cpu']:.2f}"
                   for server, data in entry["servers"].items() if server in ("proxy", "passthrough")
                   and (m := data.get("median")) and m["server_cpu"] < 0.85 and m["other_cpu"] >= 0.15]
        if pin and starved:
            notes.append(f"{name}: CPU {SERVER_CPU} was shared with other work ({'; '.join(starved)}; medians): "
                         f"its throughput ratio reflects that contention; the /cpu ratio is less sensitive to it.")
    for name, entry in results.get("latency", {}).items():
        other = max(data["median"]["other_cpu"] for data in entry["servers"].values())
        if pin and other >= 0.15:
            notes.append(f"one connection, {name}: other work took up to {other:.2f} of CPU {SERVER_CPU}; on a shared "
                         f"core a request can wait for the other process's time slice, which inflates p50 and "
                         f"the added latency.")
    workers = results.get("workers", {}).get("servers", {})
    if workers:
        worst = max(data["median"]["other_cpu"] for data in workers.values())
        if worst >= 0.2:
            notes.append(f"workers: other work kept up to {worst:.2f} of the {os.cpu_count()} cores busy during the "
                         f"scaling runs, so the second worker could not get a free core; the ratio understates "
                         f"what --workers 2 gives on an otherwise idle machine.")
    results["notes"] = notes
    log(format_report(results))
    if args.compare:
        try:
            old = json.loads(Path(args.compare).read_text())
            log(format_compare(old, results, args.compare))
        except (OSError, ValueError) as exc:
            log(f"could not compare with {args.compare}: {exc}")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_name(path.stem + ".previous.json"))
    path.write_text(json.dumps(results, indent=2) + "\n")
    log(f"\nresults written to {path}")
    return 0


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
