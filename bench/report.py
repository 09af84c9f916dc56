"""The goals, the ratio maths, PASS/MISS, the printed report, the JSON and --compare.

Every ratio is taken within one run, from alternating rounds, two ways:

* by throughput: proxy req/s / baseline req/s (the median over rounds of each);
* by CPU per request: baseline CPU per request / proxy CPU per request, where CPU per request is
  the server process's CPU seconds (user + system, /proc/PID/stat) over the rounds divided by the
  requests it answered in them. 1.0 means the proxy costs what the bare pass-through costs;
  0.85 means it needs 1/0.85 = 1.18 times the CPU per request. It is steadier than req/s on a
  shared machine, where other work takes the server's CPU away.

A goal whose value could not be measured (a family not in this build, a phase skipped) is N/A,
never a PASS.
"""

from __future__ import annotations

import glob
import re
import statistics
from pathlib import Path
from typing import Any, Iterable

from .procs import ROOT
from .scenarios import FAMILIES, RSS_CONNECTIONS, SERVERS

RSS_LIMIT_MB = 80.0
#: "Well inside" the Kubernetes memory limit: at most this share of it at the peak.
MEMORY_SHARE = 0.5
K8S_GLOB = str(ROOT / "deploy" / "kubernetes" / "*.yaml")
CODEC_US = 20.0
LIST_US = 1000.0


# ============================================================================ the maths

def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def cpu_per_request_us(cpu_seconds: float | None, requests: int | None) -> float | None:
    """Server CPU per request in µs (None without requests)."""
    if cpu_seconds is None or not requests:
        return None
    return round(cpu_seconds / requests * 1e6, 1)


def cpu_ratio(proxy_us: float | None, baseline_us: float | None) -> float | None:
    """The proxy's CPU efficiency against the baseline: baseline CPU/request over the proxy's
    (higher is better, like the throughput ratio)."""
    return ratio(baseline_us, proxy_us)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one server: medians, and CPU per request over all rounds together."""
    if not runs:
        return {}
    med = lambda key: round(statistics.median(r[key] for r in runs), 3)  # noqa: E731
    requests = sum(r["requests"] for r in runs)
    cpu_s = sum(r["server_cpu_s"] for r in runs)
    return {"rps": round(statistics.median(r["rps"] for r in runs), 1), "p50_ms": med("p50_ms"),
            "p90_ms": med("p90_ms"), "p99_ms": med("p99_ms"), "errors": sum(r["error_count"] for r in runs),
            "requests": requests, "server_cpu_s": round(cpu_s, 3),
            "cpu_us_per_req": cpu_per_request_us(cpu_s, requests),
            "server_cpu": med("server_cpu"), "canned_cpu": med("canned_cpu"), "loadgen_cpu": med("loadgen_cpu"),
            "other_cpu": med("other_cpu"), "rps_min": min(r["rps"] for r in runs),
            "rps_max": max(r["rps"] for r in runs)}


def ratios(servers: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The proxy against each reference measured in the same run, both ways."""
    proxy = servers.get("proxy", {}).get("median", {})
    out: dict[str, float | None] = {}
    for ref in ("passthrough", "nginx"):
        other = servers.get(ref, {}).get("median", {})
        if not other:
            continue
        out[f"ratio_vs_{ref}"] = ratio(proxy.get("rps"), other.get("rps"))
        out[f"cpu_ratio_vs_{ref}"] = cpu_ratio(proxy.get("cpu_us_per_req"), other.get("cpu_us_per_req"))
    return out


def verdict(measured: float | None, required: float, higher_is_better: bool) -> str:
    if measured is None:
        return "N/A"
    passed = measured >= required if higher_is_better else measured <= required
    return "PASS" if passed else "MISS"


# ============================================================================ the memory limit

_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def quantity_bytes(text: str | int) -> int:
    """A Kubernetes memory quantity (192Mi, 1Gi, 500M, 134217728) in bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kMG]i?)?\s*", str(text))
    if not match:
        raise ValueError(f"not a memory quantity: {text!r}")
    return int(float(match[1]) * _UNITS[match[2] or ""])


def kubernetes_memory_limit(pattern: str = K8S_GLOB) -> tuple[float | None, str]:
    """The proxy container's memory limit in MiB, and where it was found (or why not): the
    container whose image is capsule-proxy, among a workload's containers and initContainers (the
    manifest runs the proxy as a native sidecar, an initContainer with restartPolicy Always)."""
    try:
        import yaml
    except ImportError:
        return None, "PyYAML is not installed (make bench installs the test extras)"
    for path in sorted(glob.glob(pattern)):
        with open(path) as handle:
            documents = list(yaml.safe_load_all(handle))
        for document in documents:
            if not isinstance(document, dict):
                continue
            pod = document.get("spec", {}).get("template", {}).get("spec", {})
            for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                image = str(container.get("image", "")).rsplit("/", 1)[-1]
                if not image.startswith("capsule-proxy"):
                    continue
                limit = (container.get("resources") or {}).get("limits", {}).get("memory")
                if limit is not None:
                    where = (f"{Path(path).relative_to(ROOT)}: {document.get('kind')} "
                             f"{document.get('metadata', {}).get('name')!r}, container {container.get('name')!r}")
                    return round(quantity_bytes(limit) / 1024**2, 1), f"{where}, limits.memory {limit}"
    return None, f"no container of image capsule-proxy with a memory limit in {pattern}"


# ============================================================================ the goals

def _goal(goals: list[dict[str, Any]], name: str, measured: float | None, required: float, unit: str,
          higher_is_better: bool, note: str = "") -> None:
    result = verdict(measured, required, higher_is_better)
    short = None
    if result == "MISS" and measured is not None:
        short = round(required - measured if higher_is_better else measured - required, 3)
    goals.append({"goal": name, "measured": measured, "required": required, "unit": unit,
                  "rule": ">=" if higher_is_better else "<=", "verdict": result, "short_by": short, "note": note})


def _scenario_note(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "not measured"
    if entry.get("available") is False:
        return "not available: " + entry.get("unavailable", "")[:80]
    if entry.get("problems"):
        return "; ".join(f"{k}: {v[:80]}" for k, v in entry["problems"].items())
    return ""


def build_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []
    scenarios = results.get("scenarios", {})

    def both(name: str, scenario: str, required: float) -> None:
        entry = scenarios.get(scenario, {})
        proxy = entry.get("servers", {}).get("proxy", {}).get("median", {})
        base = entry.get("servers", {}).get("passthrough", {}).get("median", {})
        why = _scenario_note(entry)
        rates = f"{proxy.get('rps', 0):,.0f} vs {base.get('rps', 0):,.0f} req/s" if proxy and base else why
        cpus = (f"{proxy.get('cpu_us_per_req')} vs {base.get('cpu_us_per_req')} µs CPU/request"
                if proxy and base else why)
        _goal(goals, f"{name}: req/s / pass-through", entry.get("ratio_vs_passthrough"), required, "x", True, rates)
        _goal(goals, f"{name}: CPU per request, pass-through / proxy", entry.get("cpu_ratio_vs_passthrough"),
              required, "x", True, cpus)

    both("GET task", "get_task", 0.85)
    both("GET party", "get_party", 0.85)
    both("POST task", "post_task", 0.80)
    both("POST person", "post_person", 0.80)
    for scenario, what in (("list_tasks", "100 tasks"), ("list_parties", "100 parties")):
        entry = scenarios.get(scenario, {})
        proxy = entry.get("servers", {}).get("proxy", {}).get("median", {})
        base = entry.get("servers", {}).get("passthrough", {}).get("median", {})
        note = (f"{proxy.get('cpu_us_per_req')} vs {base.get('cpu_us_per_req')} µs CPU/request; req/s ratio "
                f"{entry.get('ratio_vs_passthrough')}" if proxy and base else _scenario_note(entry))
        _goal(goals, f"{what} in XML: CPU/request, one v2 page passed through / proxy",
              entry.get("cpu_ratio_vs_passthrough"), 0.85, "x", True, note)

    micro = results.get("micro", {}).get("results", {})
    for kind in ("task", "person"):
        for fmt in ("xml", "json"):
            for way in ("in", "out"):
                row = micro.get(f"{kind}_{way}_{fmt}", {})
                codec_only = micro.get(f"{kind}_{'decode' if way == 'in' else 'encode'}_{fmt}", {})
                note = f"codec alone {codec_only['us_per_op']} µs" if codec_only else ""
                _goal(goals, f"codec: {kind} {fmt.upper()} {'in  (decode + to_v2)' if way == 'in' else 'out (to_v1 + encode)'}",
                      row.get("us_per_op"), CODEC_US, "µs", False, note)
    for name, what in (("tasks100_out_xml", "tasks"), ("parties100_out_xml", "parties")):
        render = micro.get(name.replace("_out_", "_render_"), {})
        _goal(goals, f"100 {what} rendered in XML (to_v1 x100 + encode_list)", micro.get(name, {}).get("us_per_op"),
              LIST_US, "µs", False, f"encode_list alone {render['us_per_op']} µs" if render else "")

    measured = [(n, e) for n, e in scenarios.items() if e.get("upstream_calls", {}).get("proxy")]
    lookups = [(n, e["upstream_calls"]["proxy"]["warm_lookups"]) for n, e in measured]
    worst = max((v for _, v in lookups), default=None)
    _goal(goals, "look-up calls per request in steady state (every scenario)", worst, 0, "calls", False,
          "; ".join(f"{n} {v:g}" for n, v in lookups if v) or f"{len(lookups)} scenarios, none")
    over = [(n, e["upstream_calls"]["proxy"]["warm"] - e["upstream_calls"]["proxy"]["warm_lookups"], e["max_calls"])
            for n, e in measured if e.get("max_calls") is not None]
    offenders = [f"{n} {calls:g} > {most}" for n, calls, most in over if calls > most]
    _goal(goals, "scenarios over the fewest upstream calls (pages) per request", len(offenders) if over else None,
          0, "", False, "; ".join(offenders) or ", ".join(f"{n} {c:g}" for n, c, _ in over))

    rss = results.get("workers", {}).get("rss", {})
    worst_rss = max((data["max_mb"] for data in rss.values()), default=None)
    _goal(goals, f"RSS per worker at {RSS_CONNECTIONS:,} connections", worst_rss, RSS_LIMIT_MB, "MB", False,
          ", ".join(f"{label}: {data['max_mb']} MB" for label, data in rss.items()))

    memory = results.get("memory", {})
    limit = results.get("environment", {}).get("k8s_memory_limit_mb")
    for label, data in memory.items():
        required = round(limit * MEMORY_SHARE, 1) if limit else 0.0
        peak = data.get("peak_mb") if data.get("available") else None
        note = (f"{MEMORY_SHARE:.0%} of the manifest's {limit} MiB; before {data.get('before_mb')} MB; "
                f"answers {data.get('statuses')} in {data.get('wall_s')} s" if peak is not None and limit
                else data.get("unavailable", "no memory limit found in deploy/kubernetes"))
        _goal(goals, f"peak RSS, 50 concurrent {label} lists of limit=2000", peak if limit else None, required,
              "MB", False, note)
    return goals


def info_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """Figures reported for the lead to judge, without a goal."""
    rows = []
    scenarios = results.get("scenarios", {})
    for family in FAMILIES:
        entries = {n: e for n, e in scenarios.items() if e.get("family") == family}
        if not entries:
            continue
        shown = [f"{n} {'measured' if e.get('available') and e.get('servers') else 'NOT AVAILABLE' if e.get('available') is False else 'FAILED'}"
                 for n, e in entries.items()]
        rows.append((f"family {family}", ", ".join(shown)))
    uv = results.get("uvloop", {})
    if uv.get("available"):
        rows.append(("uvloop / asyncio, GET task", f"req/s {uv.get('ratio')}x, CPU per request (asyncio/uvloop) "
                                                   f"{uv.get('cpu_ratio')}x"))
    elif uv:
        rows.append(("uvloop / asyncio, GET task", "not measured: " + uv.get("unavailable", "")))
    workers = results.get("workers", {})
    if workers.get("ratio") is not None:
        rows.append(("serve --workers 2 / --workers 1, GET task", f"{workers['ratio']}x req/s (2 shared cores)"))
    latency = results.get("latency", {})
    for name, entry in latency.items():
        rows.append((f"added latency at 1 connection, {name}", f"p50 {entry['added_p50_ms']:+.3f} ms, "
                                                               f"p99 {entry['added_p99_ms']:+.3f} ms"))
    return rows


# ============================================================================ the printed report

def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def format_scenarios(results: dict[str, Any]) -> list[str]:
    head = (f"{'scenario':<18} {'server':<11} {'conns':>5} {'req/s':>7} {'min-max':>13} {'µs cpu/req':>10} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'err':>4} {'cpu srv/up/gen/oth':>19} {'req/s x':>7} {'cpu x':>6}"
            f"  upstream calls/req (warm; look-ups) / fewest")
    lines = [head, "-" * len(head)]
    for name, entry in results.get("scenarios", {}).items():
        if entry.get("available") is False:
            lines.append(f"{name:<18} NOT AVAILABLE: {entry.get('unavailable', '')[:110]}")
            continue
        first = True
        for server in SERVERS:
            data = entry["servers"].get(server)
            if data is None:
                if server in entry["problems"]:
                    lines.append(f"{name if first else '':<18} {server:<11} WRONG ANSWER: {entry['problems'][server][:100]}")
                    first = False
                continue
            m = data["median"]
            rate = per_cpu = ""
            if server == "proxy":
                r, c = entry.get("ratio_vs_passthrough"), entry.get("cpu_ratio_vs_passthrough")
                rate, per_cpu = (f"{r:.2f}" if r else "n/a"), (f"{c:.2f}" if c else "n/a")
            elif server == "nginx":
                r, c = entry.get("ratio_vs_nginx"), entry.get("cpu_ratio_vs_nginx")
                rate, per_cpu = (f"({r:.2f})" if r else ""), (f"({c:.2f})" if c else "")
            calls = entry["upstream_calls"].get(server)
            calls_text = ""
            if calls:
                calls_text = f"{calls['warm']:g}; {calls['warm_lookups']:g}"
                if server == "proxy":
                    calls_text += f" / {entry.get('max_calls')} (cold {calls['cold']})"
            spread = f"{m['rps_min']:,.0f}-{m['rps_max']:,.0f}"
            cpu = f"{m['server_cpu']:.2f}/{m['canned_cpu']:.2f}/{m['loadgen_cpu']:.2f}/{m['other_cpu']:.2f}"
            lines.append(f"{name if first else '':<18} {server:<11} {entry['connections']:>5} {m['rps']:>7,.0f} "
                         f"{spread:>13} {_num(m.get('cpu_us_per_req'), '{:,.0f}'):>10} {m['p50_ms']:>7.2f} "
                         f"{m['p99_ms']:>7.2f} {m['errors']:>4} {cpu:>19} {rate:>7} {per_cpu:>6}  {calls_text}")
            first = False
    lines += ["  req/s x = proxy req/s / pass-through req/s (medians); cpu x = pass-through CPU per request / the "
              "proxy's (server process CPU from /proc over all rounds / requests answered); in brackets on nginx "
              "rows: proxy / nginx.",
              "  cpu = cores busy during the run: server, canned upstream, load generator, other work on the "
              "server's CPU (processes outside the benchmark)."]
    for name, entry in results.get("scenarios", {}).items():
        calls = entry.get("upstream_calls", {}).get("proxy")
        if calls and entry.get("kind") in ("list", "scan", "create", "update"):
            lines.append(f"  upstream calls per request, {name} (proxy, warm): "
                         + ", ".join(f"{k} {v:g}" for k, v in calls["warm_by_kind"].items())
                         + "; cold: " + ", ".join(f"{k} {v}" for k, v in calls["cold_by_kind"].items()))
    return lines


def format_report(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = ["", "=" * 120,
             f"capsule-proxy benchmark  {results['started']}  ({results['settings']['rounds']} round(s) x "
             f"{results['settings']['duration']:g} s per server, medians; load avg before "
             f"{env['loadavg_before']}, after {env.get('loadavg_after')})",
             f"load generator: {env['loadgen']}; pinning: {env['pinning']}",
             f"references: pass-through = bench/passthrough.py (aiohttp, 1 process); nginx: {env['nginx']}",
             "=" * 120]
    if results.get("scenarios"):
        lines += format_scenarios(results)
    latency = results.get("latency", {})
    if latency:
        lines += ["", "one connection (c=1): median p50 / p99, ms"]
        for name, entry in latency.items():
            p, b = entry["servers"]["proxy"]["median"], entry["servers"]["passthrough"]["median"]
            lines.append(f"  {name:<13} proxy {p['p50_ms']:.3f} / {p['p99_ms']:.3f} ({p['rps']:,.0f} req/s)   "
                         f"pass-through {b['p50_ms']:.3f} / {b['p99_ms']:.3f} ({b['rps']:,.0f} req/s)   "
                         f"added p50 {entry['added_p50_ms']:+.3f} ms, p99 {entry['added_p99_ms']:+.3f} ms")
    workers = results.get("workers", {})
    if workers.get("servers"):
        lines += ["", "serve --workers (GET task, 64 connections, nothing pinned: workers, canned upstream and the "
                  "load generator share both cores)"]
        for label, data in workers["servers"].items():
            m = data["median"]
            lines.append(f"  {label:<10} {m['rps']:>9,.0f} req/s  {_num(m.get('cpu_us_per_req'))} µs cpu/req  "
                         f"p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms  errors {m['errors']}  cores busy: proxy "
                         f"{m['server_cpu']:.2f}, upstream {m['canned_cpu']:.2f}, generator {m['loadgen_cpu']:.2f}, "
                         f"other {m['other_cpu']:.2f}")
        lines.append(f"  ratio 2/1: {workers.get('ratio')}")
    rss = workers.get("rss", {})
    if rss:
        lines += ["", f"RSS per worker (VmRSS, MB) at {RSS_CONNECTIONS} connections"]
        for label, data in rss.items():
            lines.append(f"  {label:<10} before {data['before_mb']}  idle {data['idle_mb']} (fds {data['idle_fds']}, "
                         f"opened {data['idle_client']['opened']}, failed {data['idle_client']['failures']})  busy "
                         f"{data['active_mb']} ({data['active_rps']:,.0f} req/s, p99 {data['active_p99_ms']:.0f} ms, "
                         f"errors {sum(data['active_errors'].values())})")
    memory = results.get("memory", {})
    if memory:
        lines += ["", f"memory under big lists (peak VmRSS of one proxy process, sampled every 50 ms; Kubernetes "
                  f"limit {env.get('k8s_memory_limit_mb')} MiB from {env.get('k8s_memory_limit_source')})"]
        for label, data in memory.items():
            if not data.get("available"):
                lines.append(f"  {label:<8} not available: {data.get('unavailable', '')[:100]}")
                continue
            lines.append(f"  {label:<8} {data['concurrency']} x {data['request']}: before {data['before_mb']} MB, "
                         f"peak {data['peak_mb']} MB, after {data['after_mb']} MB; answers {data['statuses']} "
                         f"({data['answer_kb']} KB each), slowest {data['slowest_s']} s, all in {data['wall_s']} s"
                         + (f"; WRONG: {data['wrong'][0][:80]}" if data.get("wrong") else ""))
    uv = results.get("uvloop", {})
    if uv.get("available"):
        lines += ["", "uvloop (GET task, 32 connections, same canned upstream, alternating rounds)"]
        for label, data in uv["servers"].items():
            m = data["median"]
            lines.append(f"  {label:<8} {m['rps']:>9,.0f} req/s  {_num(m.get('cpu_us_per_req'))} µs cpu/req  "
                         f"p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms")
        lines.append(f"  uvloop / asyncio: req/s {uv['ratio']}x, CPU per request {uv['cpu_ratio']}x")
    micro = results.get("micro")
    if micro:
        from .micro import format_table
        lines += ["", format_table(micro)]
    lines += ["", "GOALS (each ratio from the same run)",
              f"  {'goal':<66} {'measured':>12} {'required':>12}  verdict"]
    for g in results["goals"]:
        measured = "-" if g["measured"] is None else f"{g['measured']:g} {g['unit']}".strip()
        required = f"{g['rule']} {g['required']:g} {g['unit']}".strip()
        short = f" (by {g['short_by']:g})" if g["short_by"] is not None else ""
        note = f"  [{g['note']}]" if g["note"] else ""
        lines.append(f"  {g['goal']:<66} {measured:>12} {required:>12}  {g['verdict']}{short}{note}")
    counts = verdict_counts(results["goals"])
    lines.append(f"  {counts.get('PASS', 0)} PASS, {counts.get('MISS', 0)} MISS, {counts.get('N/A', 0)} N/A")
    info = info_rows(results)
    if info:
        lines += ["", "FOR THE LEAD (no goal)"] + [f"  {k:<44} {v}" for k, v in info]
    lines += ["", "COMMANDS (ports are ephemeral)"] + [f"  {name}: {text}" for name, text in
                                                        results.get("commands", {}).items()]
    lines += ["", "NOTES"] + [f"  - {note}" for note in results.get("notes", [])]
    return "\n".join(lines)


def format_compare(old: dict[str, Any], new: dict[str, Any], old_path: str) -> str:
    lines = ["", f"COMPARED WITH {old_path} ({old.get('started')})",
             f"  {'scenario':<18} {'server':<12} {'req/s old':>10} {'req/s new':>10} {'Δ':>8} "
             f"{'cpu/req old':>11} {'cpu/req new':>11} {'Δ':>8}"]
    for name, entry in new.get("scenarios", {}).items():
        before = old.get("scenarios", {}).get(name, {})
        for server, data in entry.get("servers", {}).items():
            o = before.get("servers", {}).get(server, {}).get("median")
            n = data["median"]
            if not o or not n:
                continue
            d_rps = (n["rps"] / o["rps"] - 1) * 100 if o.get("rps") else 0
            oc, nc = o.get("cpu_us_per_req"), n.get("cpu_us_per_req")
            d_cpu = f"{(nc / oc - 1) * 100:>+7.1f}%" if oc and nc else f"{'-':>8}"
            lines.append(f"  {name:<18} {server:<12} {o['rps']:>10,.0f} {n['rps']:>10,.0f} {d_rps:>+7.1f}% "
                         f"{_num(oc):>11} {_num(nc):>11} {d_cpu}")
    om, nm = old.get("micro", {}).get("results", {}), new.get("micro", {}).get("results", {})
    for name, row in nm.items():
        if name in om and om[name]["us_per_op"]:
            change = (row["us_per_op"] / om[name]["us_per_op"] - 1) * 100
            lines.append(f"  micro {name:<34} {om[name]['us_per_op']:>10.2f} -> {row['us_per_op']:>10.2f} µs "
                         f"{change:>+7.1f}%")
    old_goals = {g["goal"]: g for g in old.get("goals", [])}
    for g in new.get("goals", []):
        o = old_goals.get(g["goal"])
        if o:
            lines.append(f"  goal {g['goal']:<66} {_num(o['measured'], '{:g}'):>9} -> "
                         f"{_num(g['measured'], '{:g}'):>9} {g['unit']:<5} {o['verdict']} -> {g['verdict']}")
    return "\n".join(lines)


def verdict_counts(goals: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for g in goals:
        counts[g["verdict"]] = counts.get(g["verdict"], 0) + 1
    return counts
