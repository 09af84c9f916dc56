"""The command line as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess

import aiohttp
import pytest

from tests.conftest import bearer
from tests.processes import CLI, run, start


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout and "emulator" in result.stdout


@pytest.mark.parametrize("command, flags", [
    ("serve", ["--config", "--host", "--port", "--upstream", "--seed", "--db"]),
    ("emulator", ["--host", "--port", "--seed", "--db"]),
])
def test_subcommand_help_shows_contract_flags(command, flags):
    result = run(command, "--help")
    assert result.returncode == 0
    for flag in flags:
        assert flag in result.stdout
    assert "tok-phillip" in result.stdout  # the demo seed's token is named in --help


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serve_embedded_answers_healthz_and_stops_cleanly(sig):
    proxy = await start("serve", "--port", "0")
    try:
        assert "embedded emulator" in proxy.line
        async with aiohttp.ClientSession() as session:
            async with session.get(proxy.url + "/healthz") as response:
                assert response.status == 200
    finally:
        code = await proxy.stop(sig)
    assert code == 0


async def test_emulator_keeps_data_in_db_across_restarts(tmp_path):
    db = str(tmp_path / "capsule.db")
    first = await start("emulator", "--port", "0", "--db", db)
    try:
        async with aiohttp.ClientSession(headers=bearer()) as session:
            body = {"task": {"description": "survives a restart", "dueOn": "2027-01-05"}}
            async with session.post(first.url + "/api/v2/tasks", json=body) as response:
                assert response.status == 201
                task_id = (await response.json())["task"]["id"]
    finally:
        assert await first.stop() == 0
    second = await start("emulator", "--port", "0", "--db", db)
    try:
        async with aiohttp.ClientSession(headers=bearer()) as session:
            async with session.get(f"{second.url}/api/v2/tasks/{task_id}") as response:
                assert response.status == 200
                assert (await response.json())["task"]["description"] == "survives a restart"
    finally:
        assert await second.stop() == 0


def test_bad_config_key_exits_with_its_name(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nprot = 8080\n")
    result = run("serve", "--config", str(config))
    assert result.returncode == 2
    assert "server.prot" in result.stderr


def test_bad_flag_value_exits_with_its_name():
    result = run("serve", "--port", "http")
    assert result.returncode == 2
    assert "server.port" in result.stderr


def test_bad_seed_stops_serve_before_listening(tmp_path):
    seed = tmp_path / "seed.toml"
    seed.write_text('[[users]]\nusername = "a"\ntoken = "t"\ntimezone = "Mars/Olympus"\n')
    result = run("serve", "--seed", str(seed), "--port", "0")
    assert result.returncode == 2
    assert "users[1].timezone" in result.stderr


def test_unusable_db_path_is_reported(tmp_path):
    result = run("emulator", "--port", "0", "--db", str(tmp_path / "missing-dir" / "x.db"))
    assert result.returncode == 2
    assert "cannot use database" in result.stderr


async def test_port_in_use_is_reported():
    holder = await start("emulator", "--port", "0")
    try:
        port = holder.url.rsplit(":", 1)[1]
        result = await asyncio.to_thread(run, "emulator", "--port", port)
        assert result.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    finally:
        await holder.stop()


async def test_workers_share_one_port_and_one_embedded_emulator():
    proxy = await start("serve", "--port", "0", "--workers", "2")
    try:
        assert "with 2 workers" in proxy.line
        auth = {"Authorization": "Basic dG9rLXBoaWxsaXA6eA=="}  # tok-phillip:x
        body = "<task><description>made by one worker</description><dueDate>2027-01-05T00:00:00Z</dueDate></task>"
        # A fresh connection per request, so the kernel can hand requests to either worker.
        async with aiohttp.ClientSession(headers=auth, connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with session.post(proxy.url + "/api/task", data=body,
                                    headers={"Content-Type": "application/xml"}) as response:
                assert response.status == 201
                location = response.headers["Location"]
            task_path = location[location.index("/api/"):]
            for _ in range(6):  # every worker sees the task: one database for all
                async with session.get(proxy.url + task_path) as response:
                    assert response.status == 200
                    assert "made by one worker" in await response.text()
    finally:
        code = await proxy.stop()
    assert code == 0


def test_check_config_into_a_closed_pipe_exits_quietly(tmp_path):
    """`capsule-proxy check-config FILE | head -1`: the reader goes away before the settings are
    all printed. The read end is closed here before anything is written, which is that case at
    its most certain."""
    config = tmp_path / "config.toml"
    config.write_text("[server]\nport = 8081\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([*CLI, "check-config", str(config)], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=20)
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stderr == ""
    assert result.returncode == 0  # the file is valid: the reader chose to read less


def test_check_config_piped_into_head_prints_one_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[server]\nport = 8081\n")
    result = subprocess.run(f"{shlex.join([*CLI, 'check-config', str(config)])} | head -1", shell=True,
                            capture_output=True, text=True, timeout=20)
    assert result.stdout.startswith(f"# {config}: valid.") and result.stdout.count("\n") == 1
    assert result.stderr == ""
