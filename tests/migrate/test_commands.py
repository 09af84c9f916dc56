"""The subcommands as `capsule-proxy` will carry them: `add_commands` + `run`, and their exit codes."""

from __future__ import annotations

import pytest

from proxy.migrate import commands

from .helpers import parser, run


def test_the_three_subcommands_are_added():
    root = parser()
    subparsers = next(action for action in root._actions if action.dest == "command")
    assert set(subparsers.choices) == set(commands.COMMANDS) == {"convert", "explain", "usage"}


@pytest.mark.parametrize("command, flags", [
    ("convert", ["--to", "--timezone", "--owner-map", "--category-map", "--output", "--format", "--no-links"]),
    ("explain", ["--body", "--timezone", "--content-type", "--accept", "--owner-map", "--category-map",
                 "--config", "--json"]),
    ("usage", ["--url", "--file", "--json", "--limit"]),
])
def test_help_shows_the_flags(capsys, command, flags):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in flags:
        assert flag in text


@pytest.mark.parametrize("argv", [["convert"], ["convert", "--to", "v3", "x"], ["explain", "GET"],
                                  ["usage", "--url", "http://x", "--file", "y"]])
def test_argparse_refuses_incomplete_commands(argv):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(argv)
    assert exit_.value.code == 2


def test_exit_statuses(tmp_path):
    good = tmp_path / "good.xml"
    good.write_bytes(b"<task><description>x</description><dueDate>2026-01-02</dueDate></task>")
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<task>")
    assert run("convert", str(good))[0] == 0
    assert run("convert", str(good), str(bad))[0] == 1
    assert run("convert", "--timezone", "Nowhere", str(good))[0] == 2
    assert run("explain", "GET", "/api/task/1")[0] == 0
    assert run("explain", "POST", "/api/task", "--body", str(bad))[0] == 0   # the proxy's 400, explained
    assert run("explain", "GET", "/not-v1")[0] == 2
    assert run("usage", "--file", str(tmp_path / "none.json"))[0] == 1


async def test_the_app_wires_both_routes_and_the_observer(aiohttp_client):
    from proxy.app import create_app
    from proxy.config import load_settings
    from proxy.keys import SERVICES
    from proxy.migrate import explain, usage
    app = create_app(load_settings(environ={}), "http://127.0.0.1:9")
    usage.install(app)
    explain.install(app, create_app)                       # installing again changes nothing
    assert sum(type(o).__name__ == "UsageInventory" for o in app[SERVICES].observers) == 1
    client = await aiohttp_client(app)
    assert (await client.get("/_proxy/usage")).status == 200
    response = await client.post("/_proxy/explain", json={"method": "DELETE", "path": "/api/task/3"})
    assert response.status == 200
    assert [c["path"] for c in (await response.json())["calls"]] == ["/api/v2/tasks/3"]
