"""SQLite storage for the emulator, owned by one dedicated thread.

Every read and write runs as one transaction on that thread (`Store.run`), so the event loop
never waits on disk I/O or fsync, and concurrent requests are serialised: N parallel creates
give N rows and parallel partial updates of one task cannot lose each other's fields.
Data lives in memory by default, or in a file that survives restarts.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from .schema import SCHEMA, SCHEMA_VERSION
from .seed import Seed
from .seed_store import apply_seed

T = TypeVar("T")


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
        except (sqlite3.Error, StoreError) as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot use database {self.path}: {exc}") from None

    def _open_or_raise(self, seed: Seed) -> list[str]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn = conn
        conn.row_factory = sqlite3.Row
        _refuse_other_versions(conn, self.path)
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        # Case-insensitive matching (search, filters, tag names) that also folds non-ASCII letters.
        conn.create_function("fold", 1, fold, deterministic=True)
        conn.create_function("digits", 1, digits, deterministic=True)
        conn.executescript(SCHEMA)
        conn.isolation_level = "DEFERRED"  # `with conn:` now opens a real transaction
        with conn:
            return apply_seed(conn, seed, SCHEMA_VERSION)


def fold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def digits(value: object) -> object:
    return "".join(ch for ch in value if "0" <= ch <= "9") if isinstance(value, str) else value


def _refuse_other_versions(conn: sqlite3.Connection, path: str) -> None:
    """A database from another emulator version has other tables; migrating it is not worth it."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return
    meta = read_meta(conn)
    if "seed_digest" in meta and meta.get("schema_version") != SCHEMA_VERSION:
        raise StoreError(
            f"database {path} was written by another version of the emulator (schema "
            f"{meta.get('schema_version', '1')}, this version uses {SCHEMA_VERSION}); "
            "delete the file to start again from the seed")


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}
