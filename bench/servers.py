"""How the suite starts each server: the canned upstream, the proxy (optionally on uvloop), the
pass-through and nginx. Every one runs in its own session under bench/procs.Processes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from .procs import CLIENT_CPU, PY, ROOT, SERVER_CPU, Proc, Processes, clean_env, free_port

#: Settings the proxy gets in every run: long keep-alive (wrk holds its connections), quiet logs.
PROXY_ENV = {"CAPSULE_PROXY_SERVER_KEEPALIVE_TIMEOUT": "300", "CAPSULE_PROXY_LOG_LEVEL": "warning"}
#: The throwaway directory uvloop is installed in for the one uvloop measurement (not a dependency).
UVLOOP_DIR = ROOT / "bench" / ".uvloop"


def start_canned(procs: Processes, records: int | None = None, name: str = "canned") -> Proc:
    argv = [PY, "-m", "bench.canned", "--port", "0"]
    if records is not None:
        argv += ["--records", str(records)]
    return procs.start(name, argv, cpus={CLIENT_CPU}, env=clean_env())


def uvloop_available() -> str | None:
    """None when the uvloop run can start, else why not."""
    probe = subprocess.run([PY, "-c", "import uvloop"], env=_uvloop_env(), capture_output=True, timeout=30)
    if probe.returncode == 0:
        return None
    return (f"uvloop is not importable (the suite looks in the venv and in {UVLOOP_DIR.relative_to(ROOT)}; "
            f"make it with: .venv/bin/pip install --target {UVLOOP_DIR.relative_to(ROOT)} uvloop)")


def _uvloop_env(**extra: str) -> dict[str, str]:
    env = clean_env(**extra)
    env["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + str(UVLOOP_DIR)
    env["BENCH_UVLOOP"] = "1"
    return env


def start_proxy(procs: Processes, canned: Proc, name: str = "proxy", workers: int = 1,
                cpus: tuple[int, ...] | None = (SERVER_CPU,), uvloop: bool = False,
                extra_env: dict[str, str] | None = None) -> Proc:
    """`capsule-proxy serve` against the canned upstream; pinned to the server CPU unless cpus=None."""
    module = "bench.uvloop_serve" if uvloop else "proxy"
    argv = [PY, "-m", module, "serve", "--upstream", canned.url, "--port", "0"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    env_settings = {**PROXY_ENV, **(extra_env or {})}
    env = _uvloop_env(**env_settings) if uvloop else clean_env(**env_settings)
    return procs.start(name, argv, cpus=set(cpus) if cpus else None, env=env)


def start_passthrough(procs: Processes, canned: Proc) -> Proc:
    return procs.start("passthrough", [PY, "-m", "bench.passthrough", "--port", "0", "--upstream", canned.url],
                       cpus={SERVER_CPU}, env=clean_env())


def nginx_config(workdir: Path, listen: int, upstream: str) -> Path:
    """nginx as a bare reverse proxy: bench/passthrough.py's mapping for the task routes."""
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


def start_nginx(procs: Processes, workdir: Path, canned: str) -> tuple[Proc | None, str]:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        return None, "not installed (apt-get install nginx-light, see bench/README.md): skipped"
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
