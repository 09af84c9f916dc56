"""Processes for the benchmarks: /proc readers, CPU pinning, and process groups that are always
stopped. Shared by bench/suite.py (and its phases) and bench/load.py.

Readers come in two layers: a pure parser of the file's text (``parse_stat``, ``parse_status_kb``,
``parse_cpu_busy``), tested in tests/bench, and the function that reads ``/proc`` and never raises
(``cpu_seconds``, ``rss_kb``, ``cpu_busy``): a process that has gone reads as 0 / None.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
READY = re.compile(r"listening on (http://\S+)")
SERVER_CPU, CLIENT_CPU = 0, 1   # the server under test / canned upstream + load generator
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


# ============================================================================ /proc parsers (pure)

def parse_stat(text: str, tick: int = CLOCK_TICK) -> float:
    """User + system CPU seconds from the text of /proc/PID/stat. The command name (field 2) is
    in brackets and may hold spaces and brackets itself, so fields are counted after the last ')'."""
    fields = text.rsplit(")", 1)[1].split()
    # After the name: state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / tick


def parse_status_kb(text: str, key: str = "VmRSS") -> int | None:
    """A ``Key:   1234 kB`` line of /proc/PID/status, in KiB (None when absent: a zombie)."""
    prefix = key + ":"
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(line.split()[1])
    return None


def parse_cpu_busy(text: str, tick: int = CLOCK_TICK) -> dict[int, float]:
    """Busy seconds per CPU from /proc/stat: every column but idle and iowait (steal included)."""
    busy = {}
    for line in text.splitlines():
        if line.startswith("cpu") and len(line) > 3 and line[3].isdigit():
            name, *values = line.split()
            ticks = [int(v) for v in values[:8]]     # user nice system idle iowait irq softirq steal
            busy[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    return busy


# ============================================================================ /proc readers

def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds pid has used so far (0.0 when it is gone)."""
    text = _read(f"/proc/{pid}/stat")
    try:
        return parse_stat(text) if text else 0.0
    except (ValueError, IndexError):
        return 0.0


def rss_kb(pid: int) -> int | None:
    """VmRSS of pid in KiB (None when unreadable)."""
    text = _read(f"/proc/{pid}/status")
    try:
        return parse_status_kb(text) if text else None
    except (ValueError, IndexError):
        return None


def cpu_busy() -> dict[int, float]:
    """Busy seconds per CPU since boot."""
    text = _read("/proc/stat")
    try:
        return parse_cpu_busy(text) if text else {}
    except (ValueError, IndexError):
        return {}


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
            text = _read(f"/proc/{current}/task/{tid}/children")
            kids = [int(k) for k in text.split()] if text else []
            found += kids
            todo += kids
    return found


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


class PeakRss:
    """Samples the RSS of some pids from a thread every `every` seconds while in a `with`."""

    def __init__(self, pids: list[int], every: float = 0.1):
        self.pids, self.every = pids, every
        self.peak_kb: dict[int, int] = {pid: 0 for pid in pids}
        self.fds: dict[int, int] = {pid: 0 for pid in pids}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        for pid in self.pids:
            self.peak_kb[pid] = max(self.peak_kb[pid], rss_kb(pid) or 0)
            self.fds[pid] = max(self.fds[pid], open_fds(pid) or 0)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# ============================================================================ pinning

def pinning_possible() -> bool:
    """True when both benchmark CPUs are ours to pin to."""
    try:
        return {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return False


def pin_to(cpus: set[int] | None):  # type: ignore[no-untyped-def]
    """A preexec_fn pinning the child to cpus (as `taskset -c`), or None."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Re-pin a running process and all its threads (best effort)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(tid), cpus)
    except OSError:
        pass


# ============================================================================ process groups

def command_text(argv: list[str], cpus: set[int] | None, env: dict[str, str] | None = None) -> str:
    """The command as one would type it: taskset prefix, the settings given by environment."""
    prefix = f"taskset -c {','.join(map(str, sorted(cpus)))} " if cpus else ""
    settings = " ".join(f"{k}={v}" for k, v in (env or {}).items()
                        if k.startswith("CAPSULE_PROXY_") or k == "BENCH_UVLOOP")
    program = [Path(argv[0]).name if argv[0] == PY else argv[0]] + argv[1:]
    return (settings + " " if settings else "") + prefix + " ".join(program)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without CAPSULE_PROXY_* settings from the caller (reproducible runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSULE_PROXY_")}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def signal_group(pid: int, sig: int) -> None:
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


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        """CPU seconds of the process and its descendants (workers)."""
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
    """Starts processes in their own sessions and always stops them all (SIGTERM, then SIGKILL of
    the whole group)."""

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
        with open(log_path, "wb") as log_file:
            popen = subprocess.Popen(argv, stdout=subprocess.PIPE if ready else log_file, stderr=log_file,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, env=env,
                                     start_new_session=True, preexec_fn=pin_to(cpus))
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
                    buffered += os.read(popen.stdout.fileno(), 4096)
                    match = ready.search(buffered.decode(errors="replace"))
                    if match:
                        proc.url, proc.ready_line = match[1], buffered.decode(errors="replace").strip()
                        break
            threading.Thread(target=_drain, args=(popen.stdout,), daemon=True).start()
        elif ready_port is not None:
            while not port_open(ready_port):
                if time.monotonic() > deadline or popen.poll() is not None:
                    raise RuntimeError(f"{name} did not start listening on port {ready_port}: {proc.log_tail()}")
                time.sleep(0.05)
            proc.url = f"http://127.0.0.1:{ready_port}"
        return proc

    def adopt(self, proc: Proc) -> None:
        """Track a process started elsewhere (a load generator) so stop_all() ends it too."""
        self.started.append(proc)

    def forget(self, proc: Proc) -> None:
        if proc in self.started:
            self.started.remove(proc)

    def stop(self, proc: Proc, timeout: float = 15.0) -> int | None:
        """SIGTERM to the process group, then SIGKILL; the exit status (None if killed)."""
        self.forget(proc)
        popen = proc.popen
        if popen.poll() is None:
            signal_group(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                signal_group(popen.pid, signal.SIGKILL)
                popen.wait(5)
                return None
        signal_group(popen.pid, signal.SIGKILL)   # any straggler left in the group
        return popen.returncode

    def stop_all(self) -> None:
        for proc in list(reversed(self.started)):
            try:
                self.stop(proc, timeout=10.0)
            except Exception:       # noqa: BLE001 - cleanup must go on with the others
                pass
