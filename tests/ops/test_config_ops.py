"""check-config, and SIGHUP reloading what is safe to change without dropping connections."""

from __future__ import annotations

import asyncio
import base64
import signal

import aiohttp

from proxy.config import load_settings
from proxy.reload import RELOADABLE, apply
from tests.processes import run, start


def test_check_config_prints_effective_settings_with_secrets_masked(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[server]\nport = 8181\n[auth]\nmode = "static"\nstatic_token = "v2-secret"\n'
                      'allowed_clients = ["old-1"]\n')
    result = run("check-config", str(config))
    assert result.returncode == 0, result.stderr
    assert "port = 8181  # file" in result.stdout
    assert "static_token = ***" in result.stdout and "allowed_clients = ***" in result.stdout
    assert "v2-secret" not in result.stdout and "old-1" not in result.stdout
    assert 'url = "embedded"  # default' in result.stdout


def test_check_config_names_a_bad_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[upstream]\nretry = 3\n")
    result = run("check-config", str(config))
    assert result.returncode == 2
    assert "upstream.retry" in result.stderr and "retries" in result.stderr


def test_only_safe_keys_are_applied_live():
    from proxy.app import build_services
    old = load_settings(environ={})
    services = build_services(old, "http://127.0.0.1:1")
    new = load_settings(environ={}, flags={"server": {"port": "9999"}, "cache": {"users_ttl": "5"},
                                           "log": {"level": "debug"}})
    applied, restart = apply(services, new)
    assert sorted(applied) == ["cache.users_ttl", "log.level"] and restart == ["server.port"]
    assert services.lookups.caches["users"].ttl == 5.0
    assert services.settings.get("server", "port") == 8080   # needs a restart: unchanged
    assert services.settings.get("cache", "users_ttl") == 5.0
    assert "server.port" not in RELOADABLE
    import logging
    logging.getLogger().setLevel("WARNING")


async def test_sighup_reloads_the_allow_list_without_a_restart(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[auth]\nmode = "static"\nstatic_token = "tok-phillip"\nallowed_clients = ["old-1"]\n'
                      '[server]\nport = 0\n')
    proxy = await start("serve", "--config", str(config))
    try:
        def auth(token: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(f"{token}:x".encode()).decode()}

        async with aiohttp.ClientSession() as session:
            async with session.get(proxy.url + "/api/task/2", headers=auth("old-2")) as response:
                assert response.status == 401
            config.write_text('[auth]\nmode = "static"\nstatic_token = "tok-phillip"\n'
                              'allowed_clients = ["old-1", "old-2"]\n[server]\nport = 1\n')
            proxy.process.send_signal(signal.SIGHUP)
            for _ in range(50):
                async with session.get(proxy.url + "/api/task/2", headers=auth("old-2")) as response:
                    if response.status == 200:
                        break
                await asyncio.sleep(0.1)
            assert response.status == 200
    finally:
        code = await proxy.stop()
    assert code == 0
    log = (await proxy.process.stderr.read()).decode()
    assert "auth.allowed_clients" in log and "server.port" in log  # applied, and needs a restart
    assert "old-2" not in log and "tok-phillip" not in log
