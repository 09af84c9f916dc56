"""Settings precedence (file < environment < flags) and errors that name the key."""

from __future__ import annotations

import tomllib

import pytest

from proxy.config import SECTIONS, ConfigError, load_settings
from tests.conftest import ROOT


def write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_contract():
    settings = load_settings(environ={})
    assert settings.get("server", "host") == "127.0.0.1"
    assert settings.get("server", "port") == 8080
    assert settings.get("upstream", "url") == "embedded"
    assert settings.get("emulator", "port") == 9090
    assert settings.get("emulator", "db") == ""


def test_file_then_environment_then_flags(tmp_path):
    path = write(tmp_path, "[server]\nport = 8001\nhost = '0.0.0.0'\n[emulator]\nport = 9001\n")
    env = {"CAPSULE_PROXY_SERVER_PORT": "8002", "CAPSULE_PROXY_EMULATOR_DB": "/tmp/x.db"}
    settings = load_settings(path, env, {"server": {"port": "8003", "host": None}})
    assert settings.get("server", "port") == 8003            # flag beats env and file
    assert settings.get("server", "host") == "0.0.0.0"       # a flag not given leaves the file value
    assert settings.get("emulator", "port") == 9001          # file beats default
    assert settings.get("emulator", "db") == "/tmp/x.db"     # env beats default
    assert settings.sources["server.port"] == "command line"
    assert settings.sources["emulator.port"] == f"file {path}"


def test_config_file_from_environment(tmp_path):
    path = write(tmp_path, "[server]\nport = 8111\n")
    assert load_settings(environ={"CAPSULE_PROXY_CONFIG": str(path)}).get("server", "port") == 8111


@pytest.mark.parametrize("text, named", [
    ("[server]\nprot = 1\n", "server.prot"),
    ("[servr]\nport = 1\n", "[servr]"),
    ("[server]\nport = 'eighty'\n", "server.port"),
    ("[server]\nport = 70000\n", "server.port"),
    ("[server]\nport = true\n", "server.port"),
    ("[server]\nshutdown_timeout = -1\n", "server.shutdown_timeout"),
    ("[upstream]\nurl = 'ftp://example.com'\n", "upstream.url"),
    ("[upstream]\nurl = 'https://api.capsulecrm.com?x=1'\n", "upstream.url"),
    ("[log]\nlevel = 'loud'\n", "log.level"),
    ("server = 5\n", "[server]"),
    ("[server\n", "not valid TOML"),
])
def test_bad_file_values_name_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace(".", r"\.")):
        load_settings(write(tmp_path, text), {})


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", {})


def test_environment_typo_in_a_known_section_is_an_error():
    with pytest.raises(ConfigError, match="CAPSULE_PROXY_SERVER_PROT"):
        load_settings(environ={"CAPSULE_PROXY_SERVER_PROT": "1"})


def test_foreign_environment_variables_are_ignored():
    # Kubernetes injects these for a Service called capsule-proxy.
    env = {"CAPSULE_PROXY_PORT": "tcp://10.0.0.1:8080", "CAPSULE_PROXY_SERVICE_HOST": "10.0.0.1"}
    assert load_settings(environ=env).get("server", "port") == 8080


def test_bad_environment_value_names_variable_source():
    with pytest.raises(ConfigError, match="environment: server.port"):
        load_settings(environ={"CAPSULE_PROXY_SERVER_PORT": "x"})


def test_upstream_url_trailing_slash_is_dropped():
    settings = load_settings(environ={"CAPSULE_PROXY_UPSTREAM_URL": "https://api.capsulecrm.com/"})
    assert settings.get("upstream", "url") == "https://api.capsulecrm.com"


def test_example_config_documents_every_key_and_loads():
    example = ROOT / "config.example.toml"
    data = tomllib.loads(example.read_text())
    documented = {(section, key) for section, keys in data.items() for key in keys}
    declared = {(section, key) for section, keys in SECTIONS.items() for key in keys}
    assert documented == declared
    defaults = load_settings(environ={})
    from_example = load_settings(example, {})
    assert from_example.values == defaults.values, "the example must show the defaults"


def test_static_auth_needs_a_token_and_clients(tmp_path):
    with pytest.raises(ConfigError, match="auth.static_token"):
        load_settings(write(tmp_path, "[auth]\nmode = 'static'\n"), {})
    with pytest.raises(ConfigError, match="auth.allowed_clients"):
        load_settings(write(tmp_path, "[auth]\nmode = 'static'\nstatic_token = 'x'\n"), {})


def test_lists_and_flags_from_the_environment():
    settings = load_settings(environ={
        "CAPSULE_PROXY_AUTH_MODE": "static", "CAPSULE_PROXY_AUTH_STATIC_TOKEN": "v2-secret",
        "CAPSULE_PROXY_AUTH_ALLOWED_CLIENTS": "old-a, old-b,", "CAPSULE_PROXY_SERVER_TRUST_FORWARDED": "yes"})
    assert settings.get("auth", "allowed_clients") == ("old-a", "old-b")
    assert settings.get("server", "trust_forwarded") is True
    masked = settings.masked()
    assert masked["auth"]["static_token"] == "***" and masked["auth"]["allowed_clients"] == "***"


@pytest.mark.parametrize("text, named", [
    ("[translate]\ntimezone = 'Mars/Olympus'\n", "translate.timezone"),
    ("[server]\npublic_url = 'capsule.example.com'\n", "server.public_url"),
    ("[server]\ntrust_forwarded = 'maybe'\n", "server.trust_forwarded"),
    ("[server]\nmax_body = 10\n", "server.max_body"),
    ("[auth]\nallowed_clients = [1, 2]\n", "auth.allowed_clients"),
    ("[auth]\nmode = 'open'\n", "auth.mode"),
])
def test_more_bad_values_name_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(write(tmp_path, text), {})


NUMERIC = [(section, key, setting.default) for section, keys in SECTIONS.items()
           for key, setting in keys.items()
           if isinstance(setting.default, (int, float)) and not isinstance(setting.default, bool)]


def test_the_numeric_settings_are_found():
    assert ("server", "port", 8080) in NUMERIC and ("server", "shutdown_timeout", 10.0) in NUMERIC
    assert len(NUMERIC) >= 15


@pytest.mark.parametrize("section, key, default", NUMERIC, ids=[f"{s}.{k}" for s, k, _ in NUMERIC])
def test_a_number_written_as_a_string_in_the_file_is_an_error_naming_the_key(tmp_path, section, key, default):
    """TOML has numbers: `port = "8080"` is a mistake in the file (a quoted number), named."""
    with pytest.raises(ConfigError, match=rf"file .*: {section}\.{key}: expected a.* got '{default}'"):
        load_settings(write(tmp_path, f'[{section}]\n{key} = "{default}"\n'), {})


@pytest.mark.parametrize("section, key, default", NUMERIC, ids=[f"{s}.{k}" for s, k, _ in NUMERIC])
def test_environment_variables_and_flags_still_give_numbers_as_strings(section, key, default):
    env = {f"CAPSULE_PROXY_{section.upper()}_{key.upper()}": str(default)}
    assert load_settings(environ=env).get(section, key) == default
    assert load_settings(environ={}, flags={section: {key: str(default)}}).get(section, key) == default


def test_a_whole_number_in_the_file_is_a_number_of_seconds_too(tmp_path):
    settings = load_settings(write(tmp_path, "[server]\nshutdown_timeout = 3\n[upstream]\nretries = 2\n"), {})
    assert settings.get("server", "shutdown_timeout") == 3.0 and settings.get("upstream", "retries") == 2
    with pytest.raises(ConfigError, match=r"upstream\.retries"):
        load_settings(write(tmp_path, "[upstream]\nretries = 2.0\n"), {})


def test_example_config_says_how_to_check_a_file():
    header = (ROOT / "config.example.toml").read_text().split("\n[", 1)[0]
    assert "capsule-proxy check-config config.toml" in header
