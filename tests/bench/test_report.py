"""The ratio maths, PASS/MISS and the goals table: a slip here would print PASS for a miss."""

from __future__ import annotations

import pytest

from bench import report
from bench.scenarios import BY_NAME


def test_ratios_point_the_same_way():
    assert report.ratio(850, 1000) == 0.85
    assert report.ratio(None, 1000) is None and report.ratio(850, 0) is None
    assert report.cpu_per_request_us(0.5, 2000) == 250.0
    assert report.cpu_per_request_us(0.5, 0) is None
    # The proxy needs 300 µs where the pass-through needs 240: it is 0.8 as efficient.
    assert report.cpu_ratio(proxy_us=300.0, baseline_us=240.0) == 0.8


@pytest.mark.parametrize(("measured", "required", "higher", "expected"), [
    (0.85, 0.85, True, "PASS"), (0.849, 0.85, True, "MISS"), (None, 0.85, True, "N/A"),
    (20.0, 20.0, False, "PASS"), (20.01, 20.0, False, "MISS"), (0, 0, False, "PASS"),
])
def test_verdict(measured, required, higher, expected):
    assert report.verdict(measured, required, higher) == expected


def _run(requests: int, cpu_s: float, rps: float) -> dict:
    return {"requests": requests, "server_cpu_s": cpu_s, "rps": rps, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0,
            "error_count": 0, "server_cpu": 1.0, "canned_cpu": 0.5, "loadgen_cpu": 0.3, "other_cpu": 0.0}


def test_cpu_per_request_is_taken_over_all_rounds_together():
    summary = report.summarise([_run(1000, 0.3, 200.0), _run(3000, 0.6, 600.0), _run(2000, 0.3, 400.0)])
    assert summary["cpu_us_per_req"] == 200.0                    # 1.2 s / 6000 requests
    assert summary["rps"] == 400.0 and (summary["rps_min"], summary["rps_max"]) == (200.0, 600.0)


def test_ratios_of_a_scenario():
    servers = {"proxy": {"median": {"rps": 800.0, "cpu_us_per_req": 250.0}},
               "passthrough": {"median": {"rps": 1000.0, "cpu_us_per_req": 200.0}}}
    assert report.ratios(servers) == {"ratio_vs_passthrough": 0.8, "cpu_ratio_vs_passthrough": 0.8}


def _scenario(ratio: float | None, cpu_ratio: float | None, available: bool = True) -> dict:
    entry = {"available": available, "family": "task", "kind": "show", "problems": {}, "servers": {},
             "upstream_calls": {}, "max_calls": 1}
    if not available:
        entry["unavailable"] = "status 501 (expected 200): b'<error>...'"
        return entry
    entry.update(ratio_vs_passthrough=ratio, cpu_ratio_vs_passthrough=cpu_ratio,
                 upstream_calls={"proxy": {"warm": 1.0, "warm_lookups": 0.0, "cold": 3}})
    return entry


def test_goals_pass_miss_and_not_available():
    results = {"scenarios": {"get_task": _scenario(0.9, 0.84), "get_party": _scenario(None, None, available=False)},
               "micro": {"results": {"task_in_xml": {"us_per_op": 25.0}, "task_out_xml": {"us_per_op": 12.0}}},
               "memory": {"tasks": {"available": True, "peak_mb": 120.0, "before_mb": 60.0}},
               "environment": {"k8s_memory_limit_mb": 192.0}}
    goals = {g["goal"]: g for g in report.build_goals(results)}
    assert goals["GET task: req/s / pass-through"]["verdict"] == "PASS"
    cpu = goals["GET task: CPU per request, pass-through / proxy"]
    assert (cpu["verdict"], cpu["short_by"]) == ("MISS", 0.01)
    party = goals["GET party: req/s / pass-through"]
    assert party["verdict"] == "N/A" and "not available" in party["note"]
    assert goals["codec: task XML in  (decode + to_v2)"]["verdict"] == "MISS"
    assert goals["codec: task XML out (to_v1 + encode)"]["verdict"] == "PASS"
    assert goals["codec: person JSON in  (decode + to_v2)"]["verdict"] == "N/A"
    memory = goals["peak RSS, 50 concurrent tasks lists of limit=2000"]
    assert (memory["required"], memory["verdict"]) == (96.0, "MISS")
    assert goals["look-up calls per request in steady state (every scenario)"]["verdict"] == "PASS"
    assert goals["scenarios over the fewest upstream calls (pages) per request"]["measured"] == 0
    assert goals["RSS per worker at 1,000 connections"]["verdict"] == "N/A"


def test_goals_name_existing_scenarios():
    for name in ("get_task", "get_party", "post_task", "post_person", "list_tasks", "list_parties"):
        assert name in BY_NAME


@pytest.mark.parametrize(("text", "mib"), [("192Mi", 192), ("1Gi", 1024), ("134217728", 128), (256 * 1024**2, 256)])
def test_memory_quantities(text, mib):
    assert report.quantity_bytes(text) / 1024**2 == mib


def test_the_manifest_limit_is_found():
    limit, source = report.kubernetes_memory_limit()
    assert limit is not None and limit > 0, source
    assert limit > 0 and "capsule-proxy" in source
