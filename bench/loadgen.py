"""Load generators and the small HTTP checks the suite makes before loading a server.

Load comes from wrk (Debian's package, 1 thread, a Lua script for auth, bodies and percentiles)
when it is installed, else from the Python asyncio generator below, run in its own process:

    python -m bench.loadgen '{"url": ..., "method": ..., "headers": {...}, "body": ..., "connections": N, "duration": S}'

Both are closed loop: each connection sends its next request only after the previous answer.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from .procs import CLIENT_CPU, PY, ROOT, Proc, Processes, clean_env, command_text, pin_to, signal_group
from .scenarios import Req

TOKEN = "tok-phillip"


def basic(token: str = TOKEN) -> str:
    return "Basic " + base64.b64encode(f"{token}:x".encode()).decode()


def detect(choice: str) -> tuple[str, str]:
    """("wrk" or "python", a description), by --loadgen auto|wrk|python."""
    wrk = shutil.which("wrk")
    if choice == "python" or (choice == "auto" and not wrk):
        why = "" if choice == "python" else " (wrk not found: apt-get install wrk, see bench/README.md)"
        return "python", f"Python asyncio generator, separate process{why}"
    if not wrk:
        raise SystemExit("bench.suite: --loadgen wrk, but wrk is not installed (apt-get install wrk)")
    try:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
        version = (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0].strip()
    except (OSError, subprocess.TimeoutExpired, IndexError):
        version = "wrk"
    return "wrk", f"{version}, 1 thread, closed loop"


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
                                 preexec_fn=pin_to(cpus))
        proc = Proc("loadgen", popen, self.workdir / "loadgen.log", cpus)
        if self.registry is not None:
            self.registry.adopt(proc)
        try:
            out, _ = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            signal_group(popen.pid, 9)
            popen.communicate()
            raise RuntimeError(f"the load generator did not finish within {timeout:.0f} s")
        except BaseException:         # Ctrl-C, SIGTERM, --max-seconds: never leave it running
            signal_group(popen.pid, 9)
            popen.wait()
            raise
        finally:
            if self.registry is not None:
                self.registry.forget(proc)
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
        return result(json.loads(match[1]), cpu)

    def _python(self, base: str, req: Req, headers: dict[str, str], connections: int,
                duration: float) -> dict[str, Any]:
        spec = {"url": base + req.path, "method": req.method, "headers": headers,
                "body": req.body.decode() if req.body is not None else None,
                "connections": connections, "duration": duration}
        argv = [PY, "-m", "bench.loadgen", json.dumps(spec)]
        self.last_command = command_text(argv, {CLIENT_CPU} if self.pin else None)
        out, cpu = self._spawn(argv, duration + 60)
        match = re.search(r"^LOADGEN_JSON (\{.*\})$", out, re.M)
        if not match:
            raise RuntimeError(f"the Python load generator gave no result: {out[-800:]}")
        return result(json.loads(match[1]), cpu)


def result(raw: dict[str, Any], loadgen_cpu: float) -> dict[str, Any]:
    """wrk's (or the Python generator's) summary -> one run's figures."""
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return {"requests": raw["requests"], "seconds": round(seconds, 3),
            "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000, "p99_ms": lat["p99"] / 1000,
            "max_ms": lat["max"] / 1000, "errors": raw["errors"],
            "error_count": sum(raw["errors"].values()), "loadgen_cpu_s": round(loadgen_cpu, 2)}


# ============================================================================ the Python generator

def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """One HTTP/1.1 answer: (status, whether the server closes, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    close = b"\r\nconnection: close" in lower
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", lower)
    body = b""
    if match:
        body = await reader.readexactly(int(match[1]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            parts.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
        body = b"".join(parts)
    elif status not in (204, 304) and not 100 <= status < 200:
        body = await reader.read()
        close = True
    return status, close, body


def raw_request(method: str, target: str, host: str, port: int, headers: dict[str, str],
                body: bytes | None) -> bytes:
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None or method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    target = url.path + (f"?{url.query}" if url.query else "")
    body = spec["body"].encode() if spec["body"] is not None else None
    request = raw_request(spec["method"], target, host, port, spec["headers"], body)
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    received = [0]
    deadline = time.perf_counter() + spec["duration"]

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
                status, close, _ = await asyncio.wait_for(read_answer(reader), 10)
            except asyncio.TimeoutError:
                errors["timeout"] += 1
                close, status = True, 0
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors["read"] += 1
                close, status = True, 0
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
            "latency_us": {"p50": us(percentile(ordered, 50)), "p90": us(percentile(ordered, 90)),
                           "p99": us(percentile(ordered, 99)), "max": us(ordered[-1] if ordered else 0),
                           "mean": us(sum(ordered) / len(ordered)) if ordered else 0}}


# ============================================================================ checks and counts

def http_request(base: str, req: Req, token: str = TOKEN,
                 conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(base)
    own = conn is None
    conn = conn or http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        headers = {"Authorization": basic(token), **dict(req.headers)}
        conn.request(req.method, req.path, body=req.body, headers=headers)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        if own:
            conn.close()


@dataclass(frozen=True)
class Check:
    """What a server answered to a scenario's request before it was loaded."""
    ok: bool
    status: int | None
    problem: str = ""

    @property
    def not_available(self) -> bool:
        """The server does not serve this request (non-2xx): not a wrong answer, a missing one."""
        return self.status is None or not 200 <= self.status < 300


def check(base: str, req: Req) -> Check:
    """Whether the server answers req correctly."""
    try:
        status, headers, body = http_request(base, req)
    except OSError as exc:
        return Check(False, None, f"no answer: {exc}")
    if status not in req.status:
        return Check(False, status, f"status {status} (expected {'/'.join(map(str, req.status))}): {body[:300]!r}")
    if req.marker is not None and req.marker not in body:
        return Check(False, status, f"the answer lacks {req.marker!r}: {body[:300]!r}")
    if req.location_suffix is not None and not headers.get("location", "").endswith(req.location_suffix):
        return Check(False, status, f"Location {headers.get('location')!r} does not end with {req.location_suffix!r}")
    return Check(True, status)


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
    the mean of `repeat` more with the same token (warm); look-up calls counted apart."""
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
    return {"cold": cold["total"], "cold_lookups": cold["lookups"], "cold_by_kind": cold["calls"],
            "warm": round(warm["total"] / repeat, 2), "warm_lookups": round(warm["lookups"] / repeat, 2),
            "warm_by_kind": {k: round(v / repeat, 2) for k, v in warm["calls"].items()}}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    print("LOADGEN_JSON " + json.dumps(asyncio.run(generate(json.loads(argv[0])))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
