"""deploy/docker-compose.yml, read with PyYAML (merge keys included): the services chain on health,
and their commands, ports and health checks agree with the settings each really runs with.
Where the Compose plugin is installed, `docker compose config` validates the file too."""

from __future__ import annotations

import shlex
from urllib.parse import urlsplit

import pytest

from tests.deploy.helpers import (
    COMPOSE, Image, build_image, check_healthcheck, check_invocation, effective_settings, find_tool,
    is_proxy_image, load_healthcheck_module, load_yaml, rel, report, run, seconds,
)


def compose() -> dict:
    [doc] = load_yaml(COMPOSE)
    return doc


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def compose_argv(service: dict, image: Image) -> list[str]:
    entrypoint = service.get("entrypoint", image.entrypoint)
    command = service.get("command", image.cmd if "entrypoint" not in service else [])
    return [*(shlex.split(entrypoint) if isinstance(entrypoint, str) else entrypoint),
            *(shlex.split(command) if isinstance(command, str) else command)]


def proxy_services() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if is_proxy_image(s.get("image", ""))}


def service_settings(name: str):
    image, service = build_image(), compose()["services"][name]
    env = image.env | compose_env(service)
    argv = compose_argv(service, image)
    return effective_settings(argv, env, image.files, f"{rel(COMPOSE)}: services.{name}"), argv, env


def test_docker_compose_config_accepts_the_file_and_refuses_a_broken_one(tmp_path):
    docker = find_tool("docker")
    if docker is None or run([docker, "compose", "version"], timeout=60).returncode != 0:
        pytest.skip("the docker compose plugin is not installed: the Compose specification is not checked "
                    "(the checks below still read the file)")
    good = run([docker, "compose", "--file", str(COMPOSE), "config", "--quiet"], timeout=60)
    assert good.returncode == 0, good.stderr
    broken = tmp_path / COMPOSE.name
    broken.write_text(COMPOSE.read_text().replace("stop_grace_period: 20s", "stop_grace_period: [20s]", 1))
    bad = run([docker, "compose", "--file", str(broken), "config", "--quiet"], timeout=60)
    assert bad.returncode != 0 and "stop_grace_period" in bad.stderr, bad


def test_services_chain_on_health_and_proxies_are_hardened():
    services, problems = compose()["services"], []
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency not in services:
                problems.append(f"services.{name}: depends on unknown service {dependency}")
            elif (condition or {}).get("condition") != "service_healthy":
                problems.append(f"services.{name}: wait for {dependency} with condition: service_healthy")
            elif "healthcheck" not in services[dependency] and not is_proxy_image(services[dependency].get("image", "")):
                problems.append(f"services.{dependency}: has no healthcheck")
        mode = service.get("network_mode", "")
        if mode.startswith("service:") and mode.split(":", 1)[1] not in services:
            problems.append(f"services.{name}: network_mode {mode}: no such service")
    for name, service in proxy_services().items():
        if service.get("read_only") is not True or "ALL" not in (service.get("cap_drop") or []):
            problems.append(f"services.{name}: set read_only: true and cap_drop: [ALL] (the image writes nothing)")
    report([f"{rel(COMPOSE)}: {p}" for p in problems])


def test_commands_ports_health_checks_and_grace_periods_agree_with_the_config():
    image, problems, emulators = build_image(), [], {}
    services = proxy_services()
    assert {"serve", "emulator"} <= {compose_argv(s, image)[1] for s in services.values()}, (
        f"{rel(COMPOSE)}: expected a proxy (serve) and an emulator service")
    for name, service in services.items():
        where = f"{rel(COMPOSE)}: services.{name}"
        settings, argv, env = service_settings(name)
        problems += check_invocation(argv[1:], where)
        command = argv[1]
        if command == "emulator":
            emulators[name] = settings.get("emulator", "port")
        health = service.get("healthcheck") or {}
        test = health.get("test") or ["CMD", *image.healthcheck]
        if test[0] == "CMD":
            problems += check_healthcheck(test[1:], env, image.files, settings, command, f"{where}.healthcheck")
        if seconds(health.get("timeout", "30s")) <= load_healthcheck_module().TIMEOUT:
            problems.append(f"{where}.healthcheck: timeout must exceed the script's own")
        grace, drain = seconds(service.get("stop_grace_period", 10)), settings.get("server", "shutdown_timeout")
        if grace <= drain:
            problems.append(f"{where}: stop_grace_period {grace}s must exceed [server] shutdown_timeout {drain}s")
        listening = ({settings.get("emulator", "port")} if command == "emulator" else
                     {settings.get("server", "port"), settings.get("ops", "port")} - {0})
        for port in service.get("ports", []):
            container_port = int(str(port).rsplit(":", 1)[-1].split("/")[0])
            if container_port not in listening:
                problems.append(f"{where}: publishes {container_port}, it listens on {sorted(listening)}")
        if settings.get("emulator", "db"):
            problems.append(f"{where}: [emulator] db is set on a read-only container")
    for name, service in services.items():
        if compose_argv(service, image)[1] != "serve":
            continue
        where = f"{rel(COMPOSE)}: services.{name}"
        settings, _, _ = service_settings(name)
        upstream = urlsplit(settings.get("upstream", "url"))
        if emulators.get(upstream.hostname) != upstream.port:
            problems.append(f"{where}: upstream {settings.get('upstream', 'url')} is no emulator service here ({emulators})")
        apps = [(n, s) for n, s in compose()["services"].items() if s.get("network_mode") == f"service:{name}"]
        if not apps:
            problems.append(f"{where}: no legacy app shares its network namespace")
        for app_name, app in apps:
            for value in compose_env(app).values():
                url = urlsplit(value) if value.startswith("http") else None
                if url and (url.hostname, url.port) != ("127.0.0.1", settings.get("server", "port")):
                    problems.append(f"services.{app_name}: calls {value}, the proxy listens on "
                                    f"127.0.0.1:{settings.get('server', 'port')}")
            token = compose_env(app).get("CAPSULE_TOKEN")
            if settings.get("auth", "mode") == "static" and token not in settings.get("auth", "allowed_clients"):
                problems.append(f"services.{app_name}: its CAPSULE_TOKEN is not an allowed client of {name}")
    report(problems)
