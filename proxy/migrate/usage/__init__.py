"""The usage inventory: which v1 routes each client still calls, how often (docs/decisions.md M3).

* `inventory.py`: counting, bounded by clients and rows; the Prometheus counter; the snapshot;
* `store.py`: the JSON file, its lock, atomic writes, and the bounded merge with other workers;
* `http.py`: `GET /_proxy/usage`, `install` into the proxy app, and the text table.
"""

from __future__ import annotations

from .http import PATH, USAGE, add_routes, from_settings, install, inventory_of, table, usage_context, usage_handler
from .inventory import (DEFAULT_LIMIT, DEFAULT_MAX_CLIENTS, MAX_AGENTS_PER_TOKEN, MAX_LIMIT, MAX_USER_AGENT,
                        METRIC, NO_USER_AGENT, OTHER_AGENTS, OTHER_LABEL, SNAPSHOT_TTL, UsageInventory, clean_user_agent,
                        counted, file_snapshot, report)
from .store import ANONYMOUS, FILE_VERSION, OTHER_CLIENTS, UsageFileError, client_name, read_file

__all__ = [
    "ANONYMOUS", "DEFAULT_LIMIT", "DEFAULT_MAX_CLIENTS", "FILE_VERSION", "MAX_AGENTS_PER_TOKEN", "MAX_LIMIT",
    "MAX_USER_AGENT", "METRIC", "NO_USER_AGENT", "OTHER_AGENTS", "OTHER_CLIENTS", "OTHER_LABEL", "PATH", "SNAPSHOT_TTL", "USAGE",
    "UsageFileError", "UsageInventory", "add_routes", "clean_user_agent", "client_name", "counted",
    "file_snapshot", "from_settings", "install", "inventory_of", "read_file", "report", "table",
    "usage_context", "usage_handler",
]
