"""What the proxy's handlers share for the app's lifetime, kept on the app under one key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .auth import Authenticator
from .config import Settings
from .http.budget import ListBudget
from .observe import Observer
from .upstream.client import Upstream
from .upstream.lookups import Lookups

if TYPE_CHECKING:  # metrics reads these services; it is built after them
    from .metrics import Metrics


@dataclass
class Services:
    settings: Settings
    upstream: Upstream
    lookups: Lookups
    auth: Authenticator
    metrics: "Metrics"
    lists: ListBudget                  # [server] max_list_items
    ready: bool = False
    ready_checked_at: float = float("-inf")
    # Called with a RequestRecord after every request (metrics, access log, usage inventory).
    observers: list[Observer] = field(default_factory=list)
