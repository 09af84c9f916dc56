"""The usage inventory: how often each client still calls each v1 route.

A `UsageInventory` is a request observer (`proxy.observe`): after every request it counts one
call under (method, v1 route template, status, client). It answers "the invoicing job still
calls `GET /api/party/{id}/tasks` 4,000 times a day" without anyone reading access logs.

Decisions:

* **Client** = the `User-Agent` (control characters removed, at most 200 characters, the
  token blanked out if a client put it there) plus `#` and the first 8 hex digits of
  HMAC-SHA256(salt, token). The token itself is never kept: not in memory beyond the call,
  not in the file, not in the JSON. A request without a token (a 401) is `#anonymous`.
* **Salt**: `[usage] salt` when set. Otherwise a random salt is made once and kept in the
  usage file, so a client's hash stays the same across restarts and across the `--workers`
  processes sharing the file. Without a file it lives in memory (hashes change on restart).
* **What is counted**: route templates under `/api/`, and `unmatched` requests that carried a
  token (a v1 call the proxy does not serve). Probes (`/healthz`, ...) and `/_proxy/` are not.
* **Bounded**: at most `max_entries` distinct (method, route, status, client) keys (10,000).
  Further new keys are counted under the client `(other clients)`, so random User-Agents
  cannot grow memory without bound.
* **Persistence** (`[usage] file`): JSON, written every `save_interval` seconds when something
  changed, and at shutdown; atomically (temporary file + rename, mode 0600) under an
  exclusive lock on `FILE.lock`. Each process keeps only the calls it counted since its last
  save and adds them to what the file holds, so several workers can share one file and each
  one's `GET /_proxy/usage` shows the fleet's totals (others' calls up to one interval late).
  A file that is not a usage file is moved aside to `FILE.corrupt` with a warning: a
  statistics file never stops the proxy from starting.
* Counting is a few dictionary updates on the event loop: no lock is needed and concurrent
  requests cannot lose counts. Saving runs in a thread on a swapped-out batch of counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from aiohttp import web

from ..observe import RequestRecord

log = logging.getLogger("capsule_proxy.usage")

FILE_VERSION = 1
HASH_DIGITS = 8
ANONYMOUS = "anonymous"
OTHER_CLIENTS = "(other clients)"
NO_USER_AGENT = "(no user agent)"
MAX_USER_AGENT = 200
DEFAULT_SAVE_INTERVAL = 10.0
DEFAULT_MAX_ENTRIES = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

# (method, route, status, user agent, token hash or ANONYMOUS)
Key = tuple[str, str, int, str, str]


class UsageFileError(Exception):
    """The usage file cannot be read as one."""


@dataclass(slots=True)
class Count:
    count: int
    first_seen: float
    last_seen: float

    def add(self, other: "Count") -> None:
        self.count += other.count
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(text: Any) -> float:
    if not isinstance(text, str):
        raise UsageFileError(f"expected a UTC timestamp, got {text!r}")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise UsageFileError(f"expected a UTC timestamp such as 2026-01-02T15:04:05Z, got {text!r}") from None


def clean_user_agent(user_agent: str | None, token: str | None = None) -> str:
    """The User-Agent as shown in the inventory: one line, bounded, never holding the token."""
    text = user_agent or ""
    if token and token in text:
        text = text.replace(token, "***")
    text = " ".join(_CONTROL.sub(" ", text).split())[:MAX_USER_AGENT]
    if token and len(token) >= 4 and token in text:  # cannot happen; belt and braces
        text = text.replace(token, "***")
    return text or NO_USER_AGENT


def client_name(user_agent: str, token_hash: str) -> str:
    return f"{user_agent} #{token_hash}"


def counted(record: RequestRecord) -> bool:
    """Whether a request belongs in the inventory: v1 API calls only (see module doc)."""
    route = record.route or ""
    return route.startswith("/api/") or (route == "unmatched" and record.token is not None)


# --- the file ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path.lock` (POSIX); without fcntl, no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _key_of(entry: Any) -> tuple[Key, Count]:
    if not isinstance(entry, dict):
        raise UsageFileError("a call entry is not an object")
    method, route, status = entry.get("method"), entry.get("route"), entry.get("status")
    agent, token_hash, count = entry.get("userAgent"), entry.get("tokenHash"), entry.get("count")
    if not (isinstance(method, str) and isinstance(route, str) and isinstance(agent, str)
            and isinstance(token_hash, str)):
        raise UsageFileError("a call entry lacks method, route, userAgent or tokenHash")
    if not (isinstance(status, int) and isinstance(count, int)) or isinstance(count, bool) or count < 0:
        raise UsageFileError("a call entry has a bad status or count")
    return ((method, route, status, agent, token_hash),
            Count(count, _seconds(entry.get("firstSeen")), _seconds(entry.get("lastSeen"))))


def read_file(path: Path) -> dict[str, Any] | None:
    """The file's salt, since and counts; None when there is no file. UsageFileError if bad."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageFileError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
        raise UsageFileError(f"not a version {FILE_VERSION} usage file")
    salt = data.get("salt")
    if salt is not None and not isinstance(salt, str):
        raise UsageFileError("the salt is not text")
    calls = data.get("calls")
    if not isinstance(calls, list):
        raise UsageFileError("it has no 'calls' list")
    counts: dict[Key, Count] = {}
    for entry in calls:
        key, count = _key_of(entry)
        if key in counts:
            counts[key].add(count)
        else:
            counts[key] = count
    return {"salt": salt, "since": _seconds(data.get("since")), "counts": counts}


def _entries(counts: dict[Key, Count]) -> list[dict[str, Any]]:
    rows = []
    for (method, route, status, agent, token_hash), value in counts.items():
        rows.append({"method": method, "route": route, "status": status,
                     "client": client_name(agent, token_hash), "userAgent": agent,
                     "tokenHash": token_hash, "count": value.count,
                     "firstSeen": _stamp(value.first_seen), "lastSeen": _stamp(value.last_seen)})
    rows.sort(key=lambda row: (-row["count"], row["route"], row["method"], row["status"], row["client"]))
    return rows


def _snapshot(counts: dict[Key, Count], since: float, persistent: bool) -> dict[str, Any]:
    calls = _entries(counts)
    return {"since": _stamp(since), "persistent": persistent, "total": sum(row["count"] for row in calls),
            "clients": len({row["client"] for row in calls}), "calls": calls}


def file_snapshot(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What a usage file holds, shaped as `GET /_proxy/usage` answers; None if there is no file."""
    data = read_file(Path(path))
    return None if data is None else _snapshot(data["counts"], data["since"], True)


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _merge(into: dict[Key, Count], batch: dict[Key, Count]) -> None:
    for key, value in batch.items():
        if key in into:
            into[key].add(value)
        else:
            into[key] = Count(value.count, value.first_seen, value.last_seen)


# --- the inventory ----------------------------------------------------------------------------

class UsageInventory:
    """Counts v1 calls per (method, route, status, client); an observer for `Services.observers`."""

    def __init__(self, *, salt: str = "", path: str | os.PathLike[str] | None = None,
                 save_interval: float = DEFAULT_SAVE_INTERVAL, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Any = time.time):
        self.path = Path(path) if path else None
        self.save_interval = save_interval
        self.max_entries = max_entries
        self._clock = clock
        self._configured_salt = salt
        self._hashes: dict[tuple[bytes, str], str] = {}  # HMAC per request is measurable: keep them
        self._clients: dict[tuple[bytes, str, str | None], tuple[str, str]] = {}
        self._salt = salt.encode()
        self.since = clock()
        # What the file held at the last save plus what this process counted since.
        self._counts: dict[Key, Count] = {}
        # What this process counted since its last save (not yet in the file).
        self._pending: dict[Key, Count] = {}
        self._saving: asyncio.Future[Any] | None = None
        if self.path is not None:
            self._open_file()
        elif not salt:
            self._salt = secrets.token_hex(16).encode()

    # -- counting --

    def token_hash(self, token: str | None) -> str:
        if not token:
            return ANONYMOUS
        key = (self._salt, token)
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= 4096:
                self._hashes.clear()
            found = self._hashes[key] = hmac.new(self._salt, token.encode("utf-8", "surrogatepass"),
                                                 hashlib.sha256).hexdigest()[:HASH_DIGITS]
        return found

    def __call__(self, record: RequestRecord) -> None:
        """The observer: count one finished request (cheap; never raises for a sane record)."""
        if not counted(record):
            return
        # One cleaning and one HMAC per distinct client, not per request.
        client_key = (self._salt, record.user_agent, record.token)
        client = self._clients.get(client_key)
        if client is None:
            if len(self._clients) >= 4096:
                self._clients.clear()
            client = self._clients[client_key] = (clean_user_agent(record.user_agent, record.token),
                                                  self.token_hash(record.token))
        key: Key = (record.method.upper()[:16], record.route, int(record.status), *client)
        if key not in self._counts and len(self._counts) >= self.max_entries:
            key = (key[0], key[1], key[2], OTHER_CLIENTS, ANONYMOUS)
        now = self._clock()
        for table in (self._counts, self._pending):
            entry = table.get(key)
            if entry is None:
                table[key] = Count(1, now, now)
            else:
                entry.count += 1
                entry.last_seen = now

    # -- reading --

    def snapshot(self) -> dict[str, Any]:
        """The inventory as JSON-able data (what `GET /_proxy/usage` answers)."""
        return _snapshot(self._counts, self.since, self.path is not None)

    # -- the file --

    def _open_file(self) -> None:
        assert self.path is not None
        try:
            with _locked(self.path):
                try:
                    data = read_file(self.path)
                except UsageFileError as exc:
                    aside = self.path.with_name(self.path.name + ".corrupt")
                    log.warning("usage file %s: %s; moved aside to %s, starting afresh", self.path, exc, aside)
                    os.replace(self.path, aside)
                    data = None
                if data is not None:
                    self._counts = data["counts"]
                    self.since = data["since"]
                if not self._configured_salt:
                    if data is not None and data["salt"]:
                        self._salt = data["salt"].encode()
                    else:
                        # Made and written at once, so every worker sharing the file uses it.
                        self._salt = secrets.token_hex(16).encode()
                        self._write(self._counts)
        except OSError as exc:
            log.warning("usage file %s: cannot be used (%s); counting in memory until it can be written",
                        self.path, exc.strerror or exc)
            if not self._configured_salt and not self._salt:
                self._salt = secrets.token_hex(16).encode()

    def _write(self, counts: dict[Key, Count]) -> None:
        assert self.path is not None
        data: dict[str, Any] = {"version": FILE_VERSION, "since": _stamp(self.since)}
        if not self._configured_salt:
            data["salt"] = self._salt.decode()
        data["calls"] = _entries(counts)
        _write_atomically(self.path, data)

    def _save_batch(self, batch: dict[Key, Count]) -> dict[Key, Count]:
        """In a thread: add `batch` to the file under the lock; the file's new counts."""
        assert self.path is not None
        with _locked(self.path):
            try:
                data = read_file(self.path)
            except UsageFileError as exc:
                log.warning("usage file %s: %s; rewriting it with this process's counts", self.path, exc)
                data = None
            counts: dict[Key, Count] = data["counts"] if data is not None else {}
            if data is not None:
                self.since = min(self.since, data["since"])
                if not self._configured_salt and data["salt"] and data["salt"].encode() != self._salt:
                    log.warning("usage file %s: holds another salt; keeping this process's", self.path)
            _merge(counts, batch)
            self._write(counts)
            return counts

    def _save_or_fail(self, batch: dict[Key, Count]) -> dict[Key, Count] | str:
        """In a thread: the file's new counts, or why it could not be written."""
        try:
            return self._save_batch(batch)
        except OSError as exc:
            return str(exc.strerror or exc)

    def _saved(self, batch: dict[Key, Count], future: "asyncio.Future[dict[Key, Count] | str]") -> None:
        """On the loop, when a save's thread is done (even if whoever awaited it was cancelled)."""
        self._saving = None
        try:
            result = None if future.cancelled() else future.result()
        except Exception as exc:  # pragma: no cover - a defect in the saving code
            log.exception("usage file %s: saving failed", self.path)
            result = type(exc).__name__
        if isinstance(result, dict):
            _merge(result, self._pending)  # what arrived while the file was being written
            self._counts = result
            return
        _merge(self._pending, batch)  # keep the batch for the next attempt
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


# --- the aiohttp side -------------------------------------------------------------------------

USAGE = web.AppKey("capsule_usage_inventory", UsageInventory)


def inventory_of(app: web.Application) -> UsageInventory | None:
    """The app's inventory: `app[USAGE]`, or the one among the shared services' observers (so the
    handler also works on the ops listener's app, which shares `SERVICES` with the main app)."""
    if USAGE in app:
        return app[USAGE]
    from ..keys import SERVICES
    services = app.get(SERVICES)
    for observer in getattr(services, "observers", ()):
        if isinstance(observer, UsageInventory):
            return observer
    return None


async def usage_handler(request: web.Request) -> web.Response:
    """`GET /_proxy/usage`: the inventory as JSON (404 when the app counts nothing)."""
    inventory = inventory_of(request.app)
    if inventory is None:
        return web.json_response({"message": "this proxy keeps no usage inventory"}, status=404)
    return web.json_response(inventory.snapshot(), dumps=lambda d: json.dumps(d, ensure_ascii=False))


async def usage_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: save periodically while the app runs, and once more when it stops."""
    inventory = app[USAGE]
    task = asyncio.create_task(inventory.autosave()) if inventory.path is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await inventory.save()


def _setting(settings: Any, section: str, key: str, default: Any) -> Any:
    """A setting, or `default` while the config has no such section (before it is wired)."""
    try:
        return settings.get(section, key)
    except KeyError:
        return default


def from_settings(settings: Any) -> UsageInventory:
    """The inventory `[usage] file` and `[usage] salt` describe."""
    return UsageInventory(salt=_setting(settings, "usage", "salt", ""),
                          path=_setting(settings, "usage", "file", "") or None)


def install(app: web.Application, inventory: UsageInventory | None = None) -> UsageInventory:
    """Count the app's requests: register the observer, `GET /_proxy/usage` and the saving."""
    from ..keys import SERVICES
    if USAGE in app:
        return app[USAGE]
    services = app[SERVICES]
    inventory = inventory or from_settings(services.settings)
    services.observers.append(inventory)
    app[USAGE] = inventory
    app.cleanup_ctx.append(usage_context)
    app.router.add_get("/_proxy/usage", usage_handler)
    return inventory


# --- the table --------------------------------------------------------------------------------

def table(snapshot: dict[str, Any], limit: int | None = None) -> str:
    """The inventory as a plain-text table, most-called first."""
    calls = list(snapshot.get("calls") or [])
    calls.sort(key=lambda row: (-int(row.get("count", 0)), str(row.get("route")), str(row.get("method")),
                                int(row.get("status", 0)), str(row.get("client"))))
    shown = calls if limit is None else calls[:limit]
    header = ("COUNT", "METHOD", "ROUTE", "STATUS", "CLIENT", "LAST SEEN")
    rows = [(f"{int(row.get('count', 0)):,}", str(row.get("method", "")), str(row.get("route", "")),
             str(row.get("status", "")), str(row.get("client", "")), str(row.get("lastSeen", "")))
            for row in shown]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]
    right = {0, 3}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    out = [line(header), *(line(r) for r in rows)]
    total = snapshot.get("total", sum(int(row.get("count", 0)) for row in calls))
    note = f"{total:,} v1 calls since {snapshot.get('since', '?')}"
    if limit is not None and len(calls) > limit:
        note += f" ({len(calls) - limit} more rows not shown)"
    if not calls:
        note = f"no v1 calls counted since {snapshot.get('since', '?')}"
    out.append("")
    out.append(note)
    return "\n".join(out) + "\n"
