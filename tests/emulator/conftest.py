"""Fixtures for the emulator tests: emulators built from any seed, and a controllable task clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest
import yaml

from proxy.emulator import clock as emulator_clock
from proxy.emulator import task_store
from proxy.emulator.app import create_app
from proxy.emulator.seed import Seed, load_seed, parse_seed


@pytest.fixture
def make_emulator(aiohttp_client):
    """Build an emulator test client from a seed (None = demo, TOML text, or a Seed)."""

    async def make(seed: str | Seed | None = None, db_path: Path | str | None = None,
                   clock: Callable[[], float] | None = None):
        if seed is None:
            seed = load_seed(None)
        elif isinstance(seed, str):
            seed = parse_seed(seed, "(test seed)")
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        return await aiohttp_client(create_app(seed, str(db_path) if db_path else None, **extra))

    return make


class TaskClock:
    """Stands in for task_store.utc_now so timestamps can be told apart within one second."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def advance(self, seconds: int = 60) -> str:
        self.now += timedelta(seconds=seconds)
        return self()


@pytest.fixture
def task_clock(monkeypatch) -> TaskClock:
    clock = TaskClock()
    monkeypatch.setattr(task_store, "utc_now", clock)
    return clock


@pytest.fixture
def task_validator(shared) -> jsonschema.protocols.Validator:
    """Validator for one v2 task, from the Airbyte schema auto-imported from live responses."""
    doc = yaml.safe_load((shared / "contracts" / "capsule-v2-task-schema.airbyte.yml").read_text("utf-8"))
    schema = doc["tasks"]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def account_clock(monkeypatch) -> TaskClock:
    """One clock for every timestamp the emulator writes (records, entries, deletions, tasks).

    Ask for it before the emulator, so the seed is loaded at its time too.
    """
    clock = TaskClock()
    monkeypatch.setattr(emulator_clock, "utc_now", clock)
    monkeypatch.setattr(task_store, "utc_now", clock)
    return clock
