"""Health check for the capsule-proxy image, which has no curl: `healthcheck.py [serve|emulator] [PATH]`.

It reads the settings the way the process does (CAPSULE_PROXY_CONFIG and the CAPSULE_PROXY_*
environment), so it asks the port the process really listens on:

- serve: the [ops] listener when [ops] port is set, else the main [server] port;
- emulator: the [emulator] port.

PATH is /healthz (default), /readyz or /metrics. Exit status 0 on HTTP 200, 1 otherwise (Docker's
contract). Settings given as command-line flags (`serve --port 9000`) are not seen here: in a
container, configure the proxy with the file or the environment.
"""

from __future__ import annotations

import http.client
import os
import sys
from typing import Mapping, Sequence

PATHS = ("/healthz", "/readyz", "/metrics")
COMMANDS = ("serve", "emulator")
TIMEOUT = 2.5  # seconds; below the HEALTHCHECK --timeout of the Dockerfile and Compose file
WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


def target(command: str, environ: Mapping[str, str]) -> tuple[str, int]:
    """(host, port) that answers the probes of `command`, from the file and environment settings."""
    from proxy.config import load_settings  # the installed package, as the process sees it

    settings = load_settings(environ=environ)
    if command == "emulator":
        host, port = settings.get("emulator", "host"), settings.get("emulator", "port")
    elif settings.get("ops", "port"):
        host, port = settings.get("ops", "host"), settings.get("ops", "port")
    else:
        host, port = settings.get("server", "host"), settings.get("server", "port")
    if port == 0:
        raise ValueError(f"{command} listens on a random port (port = 0); nothing fixed to probe")
    return WILDCARDS.get(host, host), port


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and args[0] in COMMANDS else "serve"
    path = args.pop(0) if args else "/healthz"
    if args or path not in PATHS:
        print(f"usage: healthcheck.py [{'|'.join(COMMANDS)}] [{'|'.join(PATHS)}]", file=sys.stderr)
        return 2
    try:
        host, port = target(command, os.environ if environ is None else environ)
        # http.client, not urllib: urllib would send the probe to an HTTP_PROXY from the environment.
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        try:
            connection.request("GET", path, headers={"User-Agent": "capsule-proxy-healthcheck"})
            status = connection.getresponse().status
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", with the reason
        print(f"unhealthy: {command} {path}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: GET http://{host}:{port}{path} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
