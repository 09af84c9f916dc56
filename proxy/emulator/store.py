"""SQLite storage for the emulator, owned by one dedicated thread.

Every read and write runs as one transaction on that thread (`Store.run`), so the event loop
never waits on disk I/O or fsync, and concurrent requests are serialised: N parallel creates
give N rows and parallel partial updates of one task cannot lose each other's fields.
Data lives in memory by default, or in a file that survives restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from .clock import utc_now
from .seed import Seed

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    timezone TEXT NOT NULL, token TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, colour TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parties (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type IN ('person', 'organisation')),
    first_name TEXT, last_name TEXT, name TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS opportunities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    party_id INTEGER NOT NULL REFERENCES parties(id),
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kases (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    party_id INTEGER NOT NULL REFERENCES parties(id),
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    -- AUTOINCREMENT: like Capsule, a deleted task's id is never handed out again.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    description TEXT NOT NULL, detail TEXT,
    due_on TEXT NOT NULL, due_time TEXT,
    category_id INTEGER REFERENCES categories(id),
    owner_id INTEGER REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('OPEN', 'COMPLETED', 'PENDING')),
    completed_at TEXT, completed_by INTEGER REFERENCES users(id),
    party_id INTEGER REFERENCES parties(id),
    opportunity_id INTEGER REFERENCES opportunities(id),
    kase_id INTEGER REFERENCES kases(id),
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    CHECK ((party_id IS NOT NULL) + (opportunity_id IS NOT NULL) + (kase_id IS NOT NULL) <= 1));
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, id);
"""


class StoreError(Exception):
    """The database cannot be opened or is not an emulator database."""


class Store:
    """One SQLite connection, used only from one worker thread."""

    def __init__(self, path: str | None):
        self.path = path or ":memory:"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-db")
        self._conn: sqlite3.Connection | None = None

    async def open(self, seed: Seed) -> list[str]:
        """Create the schema and load the seed into an empty database; returns warnings."""
        return await self._submit(self._open_sync, seed)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(connection, *args) on the database thread, inside one transaction."""
        return await self._submit(self._transaction, fn, *args)

    async def close(self) -> None:
        if self._conn is not None:
            await self._submit(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def _submit(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _transaction(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._conn is not None, "store is not open"
        with self._conn:  # commits, or rolls back when fn raises
            return fn(self._conn, *args)

    def _open_sync(self, seed: Seed) -> list[str]:
        try:
            return self._open_or_raise(seed)
        except sqlite3.Error as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise StoreError(f"cannot use database {self.path}: {exc}") from None

    def _open_or_raise(self, seed: Seed) -> list[str]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)
        conn.isolation_level = "DEFERRED"  # `with conn:` now opens a real transaction
        self._conn = conn
        with conn:
            return _apply_seed(conn, seed)


def _seed_digest(seed: Seed) -> str:
    return hashlib.sha256(repr(vars(seed) | {"source": ""}).encode()).hexdigest()


def _apply_seed(conn: sqlite3.Connection, seed: Seed) -> list[str]:
    """Load the seed into a new database. A database that already holds data keeps it."""
    digest = _seed_digest(seed)
    row = conn.execute("SELECT value FROM meta WHERE key = 'seed_digest'").fetchone()
    if row is not None:
        if row["value"] != digest:
            return [f"the database was seeded from a different seed than {seed.source}; "
                    "keeping the data it holds (delete the file to start again from this seed)"]
        return []
    now = utc_now()
    meta = {"seed_digest": digest, "subdomain": seed.subdomain, "site_name": seed.site_name,
            "requests_per_hour": str(seed.requests_per_hour)}
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
    conn.executemany(
        "INSERT INTO users (id, username, name, timezone, token) VALUES (?, ?, ?, ?, ?)",
        [(u["id"], u["username"], u["name"], u["timezone"], u["token"]) for u in seed.users])
    conn.executemany("INSERT INTO categories (id, name, colour) VALUES (?, ?, ?)",
                     [(c["id"], c["name"], c["colour"]) for c in seed.categories])
    conn.executemany(
        "INSERT INTO parties (id, type, first_name, last_name, name, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(p["id"], p["type"], p.get("firstName"), p.get("lastName"), p.get("name"), now, now)
         for p in seed.parties])
    for table in ("opportunities", "kases"):
        conn.executemany(
            f"INSERT INTO {table} (id, name, party_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            [(e["id"], e["name"], e["party"], now, now) for e in getattr(seed, table)])
    conn.executemany(
        "INSERT INTO tasks (id, description, detail, due_on, due_time, category_id, owner_id, status,"
        " completed_at, completed_by, party_id, opportunity_id, kase_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(t["id"], t["description"], t.get("detail"), t["dueOn"], t.get("dueTime"), t.get("category"),
          t["owner"], t["status"],
          now if t["status"] == "COMPLETED" else None,
          t["owner"] if t["status"] == "COMPLETED" else None,
          t.get("party"), t.get("opportunity"), t.get("kase"), now, now)
         for t in seed.tasks])
    return []


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}
