"""Fixtures for the v1 document-layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def v1_real(shared: Path) -> Path:
    """The folder of real v1 payloads, read in place from the shared reference data."""
    folder = shared / "fixtures" / "v1-real"
    if not folder.is_dir():
        pytest.fail(f"missing {folder}")
    return folder
