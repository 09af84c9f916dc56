"""The usage file: the counts as JSON, shared by the `--workers`, written atomically under a lock.

Decisions: docs/decisions.md M3. The format is version 1, unchanged by the client bound:

    {"version": 1, "since": "2026-01-02T15:04:05Z", "salt": "...",          # salt: when made here
     "calls": [{"method", "route", "status", "client", "userAgent", "tokenHash",
                "count", "firstSeen", "lastSeen"}, ...]}

Each process adds only what it counted since its last save (`add_to_file`), so the file holds
the sum over the processes sharing it. Merging is bounded exactly like counting (`add`): a
client the file lacks joins while there is room for it, and otherwise counts as
"(other clients)". A file holding more clients than allowed (an older file, or a lowered
`max_clients`) keeps its most-called ones when read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

log = logging.getLogger("capsule_proxy.usage")

FILE_VERSION = 1
ANONYMOUS = "anonymous"
OTHER_CLIENTS = "(other clients)"
#: The client every call counts under when its own client is not admitted (M3).
OTHER: tuple[str, str] = (OTHER_CLIENTS, ANONYMOUS)

Client = tuple[str, str]                 # (user agent, token hash or ANONYMOUS)
Key = tuple[str, str, int, str, str]     # (method, route, status, user agent, token hash)


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

    def copy(self) -> "Count":
        return Count(self.count, self.first_seen, self.last_seen)


@dataclass(slots=True)
class Loaded:
    salt: str | None
    since: float
    counts: dict[Key, Count]


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(text: Any) -> float:
    if not isinstance(text, str):
        raise UsageFileError(f"expected a UTC timestamp, got {text!r}")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise UsageFileError(f"expected a UTC timestamp such as 2026-01-02T15:04:05Z, got {text!r}") from None


def client_name(user_agent: str, token_hash: str) -> str:
    return OTHER_CLIENTS if (user_agent, token_hash) == OTHER else f"{user_agent} #{token_hash}"


# --- bounded merging --------------------------------------------------------------------------

def clients_of(counts: Iterable[Key]) -> set[Client]:
    """The admitted clients a table holds ("(other clients)" is not one)."""
    return {(key[3], key[4]) for key in counts} - {OTHER}


def add(into: dict[Key, Count], batch: Iterable[tuple[Key, Count]], *, max_clients: int, max_rows: int) -> None:
    """Add `batch` into `into`, bounded as counting is: a client `into` lacks joins while fewer
    than `max_clients` are there, a new row while fewer than `max_rows`; else "(other clients)"."""
    clients = clients_of(into)
    for key, value in batch:
        client = (key[3], key[4])
        if client != OTHER and client not in clients:
            if len(clients) < max_clients:
                clients.add(client)
            else:
                key = (key[0], key[1], key[2], *OTHER)
        if key not in into and len(into) >= max_rows and (key[3], key[4]) != OTHER:
            key = (key[0], key[1], key[2], *OTHER)
        found = into.get(key)
        if found is None:
            into[key] = value.copy()
        else:
            found.add(value)


def merge(into: dict[Key, Count], batch: dict[Key, Count]) -> None:
    """Add `batch` into `into` as it is (both hold only keys counting admitted)."""
    for key, value in batch.items():
        found = into.get(key)
        if found is None:
            into[key] = value.copy()
        else:
            found.add(value)


def bounded(counts: dict[Key, Count], *, max_clients: int, max_rows: int) -> dict[Key, Count]:
    """`counts` within the bounds, keeping the most-called clients (for a file read in). Calls
    without a token, which older files kept per User-Agent, count as "(other clients)"."""
    totals: Tally[Client] = Tally()
    for key, value in counts.items():
        totals[(key[3], key[4])] += value.count
    anonymous = any(digest == ANONYMOUS for _, digest in totals.keys() - {OTHER})
    if not anonymous and len(totals.keys() - {OTHER}) <= max_clients and len(counts) <= max_rows:
        return counts
    rank = {client: index for index, (client, _) in enumerate(totals.most_common())}
    ordered = sorted(counts.items(), key=lambda item: (rank[(item[0][3], item[0][4])], -item[1].count))
    out: dict[Key, Count] = {}
    add(out, (((k[0], k[1], k[2], *OTHER) if k[4] == ANONYMOUS else k, v) for k, v in ordered),
        max_clients=max_clients, max_rows=max_rows)
    return out


# --- the file ---------------------------------------------------------------------------------

@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
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


def read_file(path: Path) -> Loaded | None:
    """The file's salt, since and counts (unbounded); None when there is no file. UsageFileError if bad."""
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
    return Loaded(salt, _seconds(data.get("since")), counts)


def row(key: Key, value: Count) -> dict[str, Any]:
    """One `calls` entry, as the file and `GET /_proxy/usage` show it."""
    method, route, status, agent, token_hash = key
    return {"method": method, "route": route, "status": status, "client": client_name(agent, token_hash),
            "userAgent": agent, "tokenHash": token_hash, "count": value.count,
            "firstSeen": stamp(value.first_seen), "lastSeen": stamp(value.last_seen)}


def order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Most-called first, then by route, method, status and client: a stable listing."""
    return (-row["count"], row["route"], row["method"], row["status"], row["client"])


def write_file(path: Path, since: float, salt: str | None, counts: dict[Key, Count]) -> None:
    """Replace the file atomically (temporary file, fsync, rename), mode 0600."""
    data: dict[str, Any] = {"version": FILE_VERSION, "since": stamp(since)}
    if salt is not None:
        data["salt"] = salt
    data["calls"] = sorted((row(key, value) for key, value in counts.items()), key=order)
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


def new_salt() -> str:
    return secrets.token_hex(16)


def open_file(path: Path, salt: str | None, since: float, *, max_clients: int, max_rows: int) -> Loaded:
    """Under the lock: what the file holds, within the bounds. Without a configured `salt`, the
    file's, or a new one written at once so that every worker sharing the file uses it. A file
    that is not a usage file is moved aside to FILE.corrupt: statistics never stop a start.
    OSError when the file cannot be used."""
    with locked(path):
        try:
            data = read_file(path)
        except UsageFileError as exc:
            aside = path.with_name(path.name + ".corrupt")
            log.warning("usage file %s: %s; moved aside to %s, starting afresh", path, exc, aside)
            os.replace(path, aside)
            data = None
        if data is None:
            data = Loaded(None, since, {})
        data.counts = bounded(data.counts, max_clients=max_clients, max_rows=max_rows)
        if salt is None and not data.salt:
            data.salt = new_salt()
            write_file(path, data.since, data.salt, data.counts)
        return data


def add_to_file(path: Path, batch: dict[Key, Count], since: float, salt: str | None, *,
                max_clients: int, max_rows: int) -> Loaded:
    """Under the lock: add one process's `batch` to the file and write it; the file's new
    content. `salt` is written when it is not a configured one (None)."""
    with locked(path):
        try:
            data = read_file(path)
        except UsageFileError as exc:
            log.warning("usage file %s: %s; rewriting it with this process's counts", path, exc)
            data = None
        if data is None:
            data = Loaded(salt, since, {})
        else:
            data.since = min(since, data.since)
            if salt is not None and data.salt and data.salt != salt:
                log.warning("usage file %s: holds another salt; keeping this process's", path)
            data.salt = salt
            data.counts = bounded(data.counts, max_clients=max_clients, max_rows=max_rows)
        add(data.counts, batch.items(), max_clients=max_clients, max_rows=max_rows)
        write_file(path, data.since, salt, data.counts)
        return data
