"""The profile mode: py-spy samples the proxy process while wrk (or the Python generator) loads
one scenario, and the samples are summed per function.

    python -m bench.suite --profile get_task [--profile-seconds 15]

prints the top 25 functions by own time (the samples whose innermost frame is that function)
and by cumulative time (the samples with that function anywhere on the stack), and saves them to
bench/results/profile-<scenario>.txt, with the folded stacks beside it (profile-<scenario>.folded,
for flamegraph.pl or speedscope). py-spy must be installed: `.venv/bin/pip install py-spy`
(it attaches with ptrace: as root, or with CAP_SYS_PTRACE in a container). It samples without
stopping the process (--nonblocking), idle time (waiting in epoll) excluded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .loadgen import LoadGen, check
from .procs import ROOT, Proc, Processes, command_text
from .scenarios import BY_NAME

TOP = 25
RATE = 250     # samples per second


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def short_frame(frame: str) -> str:
    """``handle (/…/site-packages/aiohttp/web_protocol.py)`` -> ``handle (aiohttp/web_protocol.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "lib/python3.11/", "lib/python3.12/", "lib/python3.13/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    else:
        where = where.replace(str(ROOT) + "/", "")
    return f"{name} ({where})" if where else name


def aggregate(folded: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """Folded stacks (``a;b;c 12`` per line, outermost first) -> own and cumulative samples per
    function, and the total. A function recursing counts once per sample in cumulative."""
    own: Counter[str] = Counter()
    total_of: Counter[str] = Counter()
    total = 0
    for line in folded:
        line = line.strip()
        if not line:
            continue
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = [short_frame(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            total_of[frame] += count
    return own, total_of, total


def format_top(title: str, own: Counter[str], cumulative: Counter[str], total: int, top: int = TOP) -> str:
    lines = [title, f"{total} samples ({RATE}/s, idle excluded)", "",
             f"top {top} by own time", f"  {'own %':>6} {'cum %':>6}  function (file)"]
    pct = lambda n: 100.0 * n / total if total else 0.0  # noqa: E731
    for frame, count in own.most_common(top):
        lines.append(f"  {pct(count):>6.1f} {pct(cumulative[frame]):>6.1f}  {frame}")
    lines += ["", f"top {top} by cumulative time", f"  {'cum %':>6} {'own %':>6}  function (file)"]
    for frame, count in cumulative.most_common(top):
        lines.append(f"  {pct(count):>6.1f} {pct(own[frame]):>6.1f}  {frame}")
    return "\n".join(lines)


def run_profile(scenario_name: str, seconds: float, procs: Processes, gen: LoadGen, proxy: Proc,
                out_dir: Path) -> dict[str, Any]:
    """Load the proxy with the scenario and sample it with py-spy for `seconds`."""
    scenario = BY_NAME[scenario_name]
    spy = py_spy()
    if spy is None:
        raise SystemExit("bench.suite --profile: py-spy is not installed (.venv/bin/pip install py-spy)")
    answer = check(proxy.url, scenario.proxy)
    if not answer.ok:
        raise SystemExit(f"bench.suite --profile {scenario_name}: the proxy answers wrongly or not at all "
                         f"({answer.problem[:300]}): nothing to profile")
    gen.run(proxy.url, scenario.proxy, scenario.connections, 2)            # warm-up
    load: dict[str, Any] = {}

    def loader() -> None:
        try:
            load.update(gen.run(proxy.url, scenario.proxy, scenario.connections, seconds + 3))
        except Exception as exc:  # noqa: BLE001 - reported below
            load["error"] = str(exc)

    thread = threading.Thread(target=loader, daemon=True)
    thread.start()
    time.sleep(1.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    folded_path = out_dir / f"profile-{scenario_name}.folded"
    argv = [spy, "record", "--pid", str(proxy.pid), "--duration", str(int(seconds)), "--rate", str(RATE),
            "--format", "raw", "--function", "--nonblocking", "--output", str(folded_path)]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    thread.join(seconds + 60)
    if done.returncode != 0 or not folded_path.exists():
        raise SystemExit(f"py-spy failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}\n"
                         "(it needs ptrace: run as root, or give the container CAP_SYS_PTRACE)")
    own, cumulative, total = aggregate(folded_path.read_text().splitlines())
    title = (f"profile of {scenario_name}: {scenario.title}, {scenario.connections} connections, "
             f"{time.monotonic() - started:.0f} s of py-spy on the proxy (pid {proxy.pid}); load: "
             f"{load.get('rps', 0):,.0f} req/s, {load.get('error_count', '?')} errors"
             + (f" ({load['error']})" if "error" in load else ""))
    text = format_top(title, own, cumulative, total)
    text += "\n\ncommands:\n  " + command_text(argv, None) + "\n  " + gen.last_command + "\n"
    path = out_dir / f"profile-{scenario_name}.txt"
    path.write_text(text)
    return {"text": text, "path": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            "folded": str(folded_path), "samples": total, "pid": os.getpid()}
