"""`pip install .` must carry everything the proxy reads at run time (CONTRACT: one console script)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_the_wheel_ships_schemas_demo_seed_and_the_console_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("capsule_proxy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("common", "task", "tasks", "users", "taskCategories", "error"):
        assert f"proxy/schemas/{kind}.xsd" in names
    assert "proxy/emulator/demo_seed.toml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "capsule-proxy = proxy.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    # Every Python package under proxy/ must be listed in pyproject.toml, or it would be left out.
    for init in (ROOT / "proxy").rglob("__init__.py"):
        module = init.relative_to(ROOT).with_suffix("").as_posix()
        assert f"{module}.py" in names, f"{module} is not in the wheel: add it to [tool.setuptools] packages"
