"""Migration tools for teams leaving API v1 (issue #7).

* `convert`: stored v1 task documents <-> v2 task bodies, offline, with the proxy's own
  `translate/` rules (`convert.py`);
* `explain`: the v2 calls the proxy would make for one v1 request, found by running the real
  proxy against a dry-run upstream that only records (`explain.py`, also `POST /_proxy/explain`);
* the usage inventory: which v1 routes each client still calls (`usage.py`, `GET /_proxy/usage`);
* `commands.py`: the `convert`, `explain` and `usage` subcommands of `capsule-proxy`.

`install(app)` wires the two `/_proxy/` routes and the usage observer into a proxy app.
"""

from __future__ import annotations

from aiohttp import web


def install(app: web.Application) -> None:
    """Add `POST /_proxy/explain`, `GET /_proxy/usage` and the usage inventory to a proxy app
    made by `proxy.app.create_app` (call it before the app starts)."""
    from . import explain, usage
    usage.install(app)
    explain.install(app)
