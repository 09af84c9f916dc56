"""What the proxy's handlers share for the app's lifetime, kept on the app under one key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .config import Settings
from .observe import Observer
from .upstream.client import Upstream
from .upstream.lookups import Lookups
from .v1.auth import Authenticator

# host[:port]: a DNS name or IPv4 address, or a bracketed IPv6 address. Anything else could
# smuggle text into the Location headers built from it.
VALID_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
                        r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")


@dataclass
class Services:
    settings: Settings
    upstream: Upstream
    lookups: Lookups
    auth: Authenticator
    ready: bool = False
    ready_checked_at: float = float("-inf")
    # Called with a RequestRecord after every request (metrics, access log, usage inventory).
    observers: list[Observer] = field(default_factory=list)
    metrics: Any = None  # proxy.metrics.Metrics, set once the services exist (it reads them)
    in_flight: int = 0

    def public_base(self, request: web.Request) -> str:
        """The base URL clients reach the proxy at, for Location headers."""
        configured = self.settings.get("server", "public_url")
        if configured:
            return configured
        scheme, host = request.scheme, request.host
        if self.settings.get("server", "trust_forwarded"):
            # The first entry is the one the client used; later ones were added by hops.
            proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
            forwarded_host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
            if proto in ("http", "https"):
                scheme = proto
            if VALID_HOST.match(forwarded_host):  # the same rule as for Host
                host = forwarded_host
        return f"{scheme}://{host}"


SERVICES = web.AppKey("services", Services)
