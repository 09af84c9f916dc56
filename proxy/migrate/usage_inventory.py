"""Counting: how often each client still calls each v1 route, within fixed bounds.

A `UsageInventory` is a request observer (`proxy.observe`): after every v1 request it counts one
call under (method, v1 route template, status, client), and adds one to the Prometheus counter
`capsule_proxy_v1_calls_total` once `export` has registered it. It answers "the invoicing job
still calls `GET /api/party/{id}/tasks` 4,000 times a day" without anyone reading access logs.
Who a client is, the admission rule, the bounds and the labels: docs/decisions.md M3.

Counting is a few dictionary updates on the event loop, so concurrent requests cannot lose
counts and no lock is needed. The file is `usage_store.py`; saving runs in a thread on a
swapped-out batch of counts. `GET /_proxy/usage` is answered from a snapshot rebuilt at most
every `snapshot_ttl` seconds, and only when something changed (`answer`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import heapq
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ..observe import RequestRecord
from . import usage_store as store
from .usage_store import ANONYMOUS, OTHER, Client, Count, Key

log = logging.getLogger("capsule_proxy.usage")

HASH_DIGITS = 8
NO_USER_AGENT = "(no user agent)"
OTHER_AGENTS = "(other user agents)"
MAX_USER_AGENT = 200
#: A token shows under at most this many User-Agents; more count as "(other user agents)", so
#: one accepted token cannot fill every client slot by varying its User-Agent.
MAX_AGENTS_PER_TOKEN = 16
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
OTHER_METHOD = "OTHER"
DEFAULT_MAX_CLIENTS = 200
DEFAULT_MAX_ROWS = 10_000
DEFAULT_SAVE_INTERVAL = 10.0
SNAPSHOT_TTL = 2.0
DEFAULT_LIMIT = 100           # rows in a `GET /_proxy/usage` answer unless ?limit= says otherwise
MAX_LIMIT = 1_000             # the most rows an answer can hold; the snapshot keeps this many
METRIC = "capsule_proxy_v1_calls"
OTHER_LABEL = "other"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_user_agent(user_agent: str | None, token: str | None = None) -> str:
    """The User-Agent as shown in the inventory: one line, bounded, never holding the token."""
    text = user_agent or ""
    if token and token in text:
        text = text.replace(token, "***")
    text = " ".join(_CONTROL.sub(" ", text).split())[:MAX_USER_AGENT]
    if token and len(token) >= 4 and token in text:  # cannot happen; belt and braces
        text = text.replace(token, "***")
    return text or NO_USER_AGENT


def counted(record: RequestRecord) -> bool:
    """Whether a request belongs in the inventory: v1 API calls only (M3)."""
    route = record.route or ""
    return route.startswith("/api/") or (route == "unmatched" and record.token is not None)


def report(counts: dict[Key, Count], since: float, persistent: bool, limit: int | None = None,
           max_clients: int | None = None) -> dict[str, Any]:
    """The inventory as `GET /_proxy/usage` answers it: totals, and the `limit` most-called rows
    (all of them when None). Walks every row: callers bound how often (see `answer`)."""
    total = other = 0
    clients: set[Client] = set()
    for key, value in counts.items():
        total += value.count
        clients.add((key[3], key[4]))
        if (key[3], key[4]) == OTHER:
            other += value.count
    items = counts.items() if limit is None or limit >= len(counts) else heapq.nsmallest(
        limit, counts.items(), key=lambda item: (-item[1].count, item[0][1], item[0][0], item[0][2],
                                                 item[0][3], item[0][4]))
    calls = sorted((store.row(key, value) for key, value in items), key=store.order)
    data: dict[str, Any] = {"since": store.stamp(since), "persistent": persistent, "total": total,
                            "clients": len(clients), "otherClientsCalls": other, "rows": len(counts)}
    if max_clients is not None:
        data["maxClients"] = max_clients
    data["calls"] = calls
    return data


def file_snapshot(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What a usage file holds, shaped as `GET /_proxy/usage` answers (every row); None if no file."""
    data = store.read_file(Path(path))
    return None if data is None else report(data.counts, data.since, True)


@dataclass
class _Snapshot:
    version: int
    built_at: float
    head: dict[str, Any]
    rows: list[dict[str, Any]]
    bodies: dict[int, bytes] = field(default_factory=dict)


class UsageInventory:
    """Counts v1 calls per (method, route, status, client); an observer for `Services.observers`."""

    def __init__(self, *, salt: str = "", path: str | os.PathLike[str] | None = None,
                 save_interval: float = DEFAULT_SAVE_INTERVAL, max_clients: int = DEFAULT_MAX_CLIENTS,
                 max_rows: int = DEFAULT_MAX_ROWS, snapshot_ttl: float = SNAPSHOT_TTL,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic):
        self.path = Path(path) if path else None
        self.save_interval = save_interval
        self.max_clients = max_clients
        self.max_rows = max_rows
        self.snapshot_ttl = snapshot_ttl
        self.clock, self.monotonic = clock, monotonic   # wall time for stamps; the snapshot's age
        self._configured_salt = salt
        self._salt = salt or store.new_salt()
        self._hashes: dict[str, str] = {}   # HMAC per request is measurable: keep them
        self._identities: dict[tuple[str, str], Client] = {}
        self.since = clock()
        # What the file held at the last save plus what this process counted since.
        self._counts: dict[Key, Count] = {}
        # What this process counted since its last save (not yet in the file).
        self._pending: dict[Key, Count] = {}
        self._admitted: set[Client] = set()
        self._agents: dict[str, int] = {}    # token hash -> its admitted User-Agents
        self._saving: asyncio.Future[Any] | None = None
        self.version = 0                     # changes whenever the counts do
        self.snapshot_builds = 0
        self._snapshot: _Snapshot | None = None
        self._counter: Counter | None = None
        self._labels: set[str] = set()       # the client label values the counter uses
        self._children: dict[tuple[str, str, int, str], Any] = {}
        if self.path is not None:
            self._open_file()

    # -- counting --

    def token_hash(self, token: str | None) -> str:
        if not token:
            return ANONYMOUS
        found = self._hashes.get(token)
        if found is None:
            if len(self._hashes) >= 4096:
                self._hashes.clear()
            found = self._hashes[token] = hmac.new(self._salt.encode(), token.encode("utf-8", "surrogatepass"),
                                                   hashlib.sha256).hexdigest()[:HASH_DIGITS]
        return found

    def __call__(self, record: RequestRecord) -> None:
        """The observer: count one finished request (cheap; never raises for a sane record)."""
        if not counted(record):
            return
        status = int(record.status)
        client = self._client(record, status)
        method = record.method.upper()
        method = method if method in METHODS else OTHER_METHOD
        key: Key = (method, record.route, status, *client)
        counts = self._counts
        if key not in counts and client != OTHER and len(counts) >= self.max_rows:
            key = (method, record.route, status, *OTHER)
        now = self.clock()
        for table in (counts, self._pending):
            entry = table.get(key)
            if entry is None:
                table[key] = Count(1, now, now)
            else:
                entry.count += 1
                entry.last_seen = now
        self.version += 1
        if self._counter is not None:
            self._count_metric(record.route, method, status, client)

    def _client(self, record: RequestRecord, status: int) -> Client:
        """The admitted client this call counts under, or OTHER (M3: admitted after a success)."""
        token = record.token
        if not token:
            return OTHER
        # One cleaning and one HMAC per distinct client, not per request.
        client = self._identities.get((record.user_agent, token))
        if client is None:
            if len(self._identities) >= 4096:
                self._identities.clear()
            client = self._identities[(record.user_agent, token)] = (
                clean_user_agent(record.user_agent, token), self.token_hash(token))
        if client in self._admitted:
            return client
        digest = client[1]
        agents = self._agents.get(digest)
        if agents is None and status >= 400:
            return OTHER      # neither a success nor a token that already had one: maybe junk
        if agents is not None and agents >= MAX_AGENTS_PER_TOKEN:
            client = (OTHER_AGENTS, digest)
            if client in self._admitted:
                return client
        if len(self._admitted) >= self.max_clients:
            return OTHER
        self._admitted.add(client)
        self._agents[digest] = (agents or 0) + (client[0] != OTHER_AGENTS)
        return client

    def _readmit(self) -> None:
        """The admitted clients are those the counts hold (after a load or a save)."""
        self._admitted = store.clients_of(self._counts)
        self._agents = {}
        for agent, digest in self._admitted:
            self._agents[digest] = self._agents.get(digest, 0) + (agent != OTHER_AGENTS)

    # -- Prometheus --

    def export(self, registry: CollectorRegistry) -> None:
        """Register `capsule_proxy_v1_calls_total` in `registry` (once); counting then updates it."""
        if self._counter is None:
            self._counter = Counter(
                METRIC, "v1 calls counted by the usage inventory, by v1 route template, method, status "
                "class and client: a salted 8-hex-digit token hash for the admitted clients, 'other' for the rest",
                ["route", "method", "status_class", "client"], registry=registry)

    def _count_metric(self, route: str, method: str, status: int, client: Client) -> None:
        label = OTHER_LABEL if client == OTHER else client[1]
        if label != OTHER_LABEL and label not in self._labels:
            # Its own bound: a client folded by a save may have been labelled already.
            if len(self._labels) >= self.max_clients:
                label = OTHER_LABEL
            else:
                self._labels.add(label)
        key = (route, method, status // 100, label)
        child = self._children.get(key)
        if child is None:   # labels() validates and hashes: keep the children (F1)
            assert self._counter is not None
            child = self._children[key] = self._counter.labels(route, method, f"{status // 100}xx", label)
        child.inc()

    # -- reading --

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The inventory as JSON-able data, built now (`GET /_proxy/usage` uses `answer`)."""
        return report(self._counts, self.since, self.path is not None, limit, self.max_clients)

    def answer(self, limit: int = DEFAULT_LIMIT) -> bytes:
        """`GET /_proxy/usage`'s JSON body with the `limit` most-called rows (at most MAX_LIMIT).

        From a snapshot rebuilt only when the counts changed and the last one is `snapshot_ttl`
        seconds old: a busy or polled proxy walks its table at most once per interval."""
        now = self.monotonic()
        cached = self._snapshot
        if cached is None or (cached.version != self.version and now - cached.built_at >= self.snapshot_ttl):
            self.snapshot_builds += 1
            data = self.snapshot(MAX_LIMIT)
            rows = data.pop("calls")
            cached = self._snapshot = _Snapshot(self.version, now, data, rows)
        limit = max(1, min(limit, MAX_LIMIT))
        body = cached.bodies.get(limit)
        if body is None:
            body = json.dumps({**cached.head, "limit": limit, "calls": cached.rows[:limit]},
                              ensure_ascii=False).encode("utf-8")
            if len(cached.bodies) < 8:     # a few distinct limits at most; others are built per call
                cached.bodies[limit] = body
        return body

    # -- the file --

    def _open_file(self) -> None:
        assert self.path is not None
        try:
            loaded = store.open_file(self.path, self._configured_salt or None, self.since,
                                     max_clients=self.max_clients, max_rows=self.max_rows)
        except OSError as exc:
            log.warning("usage file %s: cannot be used (%s); counting in memory until it can be written",
                        self.path, exc.strerror or exc)
            return
        self._counts, self.since = loaded.counts, loaded.since
        if not self._configured_salt and loaded.salt:
            self._salt = loaded.salt
        self._readmit()

    def _save_batch(self, batch: dict[Key, Count]) -> store.Loaded:
        """In a thread: add `batch` to the file under the lock; the file's new content."""
        assert self.path is not None
        return store.add_to_file(self.path, batch, self.since, None if self._configured_salt else self._salt,
                                 max_clients=self.max_clients, max_rows=self.max_rows)

    def _save_or_fail(self, batch: dict[Key, Count]) -> store.Loaded | str:
        """In a thread: the file's new content, or why it could not be written."""
        try:
            return self._save_batch(batch)
        except OSError as exc:
            return str(exc.strerror or exc)

    def _saved(self, batch: dict[Key, Count], future: "asyncio.Future[store.Loaded | str]") -> None:
        """On the loop, when a save's thread is done (even if whoever awaited it was cancelled)."""
        self._saving = None
        try:
            result = None if future.cancelled() else future.result()
        except Exception as exc:  # pragma: no cover - a defect in the saving code
            log.exception("usage file %s: saving failed", self.path)
            result = type(exc).__name__
        if isinstance(result, store.Loaded):
            # What arrived while the file was being written, bounded as the file will bound it.
            store.add(result.counts, self._pending.items(), max_clients=self.max_clients, max_rows=self.max_rows)
            self._counts, self.since = result.counts, min(self.since, result.since)
            self._readmit()
            self.version += 1
            return
        store.merge(self._pending, batch)   # keep the batch for the next attempt
        log.warning("usage file %s: cannot be written (%s)", self.path, result or "cancelled")

    async def save(self) -> None:
        """Add what was counted since the last save to the file (no-op without a file).

        One save at a time. Cancelling a caller does not lose counts: the write goes on in its
        thread and its result is applied when it ends; the next save waits for it first."""
        if self.path is None:
            return
        if self._saving is not None:
            await asyncio.shield(self._saving)
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        future = asyncio.ensure_future(asyncio.to_thread(self._save_or_fail, batch))
        future.add_done_callback(functools.partial(self._saved, batch))
        self._saving = future
        await asyncio.shield(future)

    async def autosave(self) -> None:
        """Save every `save_interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.save_interval)
            try:
                await self.save()
            except Exception:  # pragma: no cover - a defect; keep counting
                log.exception("usage file %s: saving failed", self.path)
