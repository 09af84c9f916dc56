"""A user's clone has no ../shared beside it: its tests skip, saying where the recordings were
looked for; CI has it, and neither `.ci/run` nor the tests may then skip silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Tests that read the shared recordings, one per folder that has any.
NEEDS_SHARED = ["tests/v1/test_real_fixtures.py", "tests/proxy/test_fixtures.py", "tests/emulator/test_shapes.py"]


def _pytest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_without_the_shared_folder_they_skip_naming_it(tmp_path):
    missing = tmp_path / "no-shared-here"
    result = _pytest(_env(CAPSULE_SHARED=str(missing), CI=None), *NEEDS_SHARED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIPPED" in result.stdout and "FAILED" not in result.stdout
    assert str(missing) in result.stdout and "CAPSULE_SHARED" in result.stdout


def test_in_ci_a_missing_shared_folder_fails_loudly(tmp_path):
    result = _pytest(_env(CAPSULE_SHARED=str(tmp_path / "none"), CI="true"), NEEDS_SHARED[0])
    assert result.returncode != 0
    assert "CI runs every test" in result.stdout


def test_the_ci_script_refuses_to_run_without_it(tmp_path):
    result = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=ROOT, capture_output=True, text=True,
                            env=_env(CAPSULE_SHARED=str(tmp_path / "none")), timeout=60)
    assert result.returncode == 1
    assert "shared reference folder is missing" in result.stderr


def test_with_the_shared_folder_none_of_them_skips():
    from tests.conftest import shared_or_skip
    shared_or_skip()                       # skips in a user's clone, fails in CI
    result = _pytest(_env(), *NEEDS_SHARED)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "SKIPPED" not in result.stdout
