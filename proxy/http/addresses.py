"""Where the proxy is reached: the Host rule and the base of the Location headers (P4, R4)."""

from __future__ import annotations

import re

from aiohttp import web

from ..config import Settings

# host[:port]: a DNS name or IPv4 address, or a bracketed IPv6 address. Anything else could
# smuggle text into the Location headers built from it.
VALID_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
                        r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")


def public_base(request: web.Request, settings: Settings) -> str:
    """The base URL clients reach the proxy at, for Location headers."""
    configured = settings.get("server", "public_url")
    if configured:
        return configured
    scheme, host = request.scheme, request.host
    if settings.get("server", "trust_forwarded"):
        # The first entry is the one the client used; later ones were added by hops.
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        forwarded_host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if proto in ("http", "https"):
            scheme = proto
        if VALID_HOST.match(forwarded_host):  # the same rule as for Host
            host = forwarded_host
    return f"{scheme}://{host}"
