"""The report: medians over repetitions, ratios within one, the targets, the machine.

A ratio is taken between two runs of the same repetition, then the median of those
ratios is reported: runs minutes apart on a shared machine agree far better than
runs a whole benchmark apart.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.cases import HASHING, NGINX
from bench.measure import Results
from bench.servers import redis_binary

WEBDIS_GET = "webdis GET"
# Per repetition: each case's run in it, by case name.
Rep = dict[str, dict[str, Any]]


def _ratio(case: str, reference: str, figure: str = "rps") -> Callable[[Rep], float]:
    return lambda rep: rep[case][figure] / rep[reference][figure]


def _figure(case: str, figure: str) -> Callable[[Rep], float]:
    return lambda rep: rep[case][figure]


@dataclass(frozen=True)
class Target:
    name: str
    measure: Callable[[Rep], float]  # KeyError when a run it needs is missing
    limit: float
    at_least: bool  # the measure must be >= limit; else <= limit

    @property
    def goal(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.limit:g}"

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit


GET = "make run: GET"
MAKE_RUN_100M = "make run: download 100 MiB"
POST = "make run: POST /stashes with expire"
TARGETS = (
    Target("make run GET / webdis GET", _ratio(GET, WEBDIS_GET), 0.35, True),
    Target("make run GET / bare WSGI GET, granian", _ratio(GET, "bare GET, granian"),
           0.8, True),
    Target("make run, WSGI GET / bare WSGI GET, granian",
           _ratio("make run, WSGI: GET", "bare GET, granian"), 0.8, True),
    Target("make run GET, Basic auth / webdis GET",
           _ratio("make run: GET, Basic auth", WEBDIS_GET), 0.3, True),
    Target("make run POST with expire / webdis SETEX",
           _ratio("make run: POST /stashes with expire", "webdis SETEX"), 0.18, True),
    Target("make run mix 90/9/1 / webdis GET",
           _ratio("make run: mix 90/9/1", WEBDIS_GET), 0.3, True),
    Target("make run silenced match / webdis GET",
           _ratio("make run: silenced match", WEBDIS_GET), 0.35, True),
    Target("gunicorn GET / bare WSGI GET, gunicorn",
           _ratio("gunicorn: GET", "bare GET, gunicorn"), 0.85, True),
    Target("list page CPU per page, 1M / 1k stashes",
           _ratio("make run: list page, 1M stashes", "make run: list page, 1k stashes",
                  "cpu_us"), 1.5, False),
    Target("make run GET, metrics on / off", _ratio(GET, "make run, metrics off: GET"),
           0.95, True),
    Target("make run POST, metrics on / off",
           _ratio("make run: POST /stashes with expire",
                  "make run, metrics off: POST /stashes with expire"), 0.95, True),
    Target("make run GET p99 at 64 connections, ms",
           _figure("make run: GET, 64 connections", "p99_ms"), 10, False),
    Target("make run download 100 MiB / nginx",
           _ratio(MAKE_RUN_100M, NGINX["100m"]), 0.5, True),
    Target("make run upload 100 MiB, MB/s",
           _figure("make run: upload 100 MiB", "mb_per_s"), 150, True),
    *(
        Target(f"{server} {what} 100 MiB, server memory growth, MiB",
               _figure(f"{server}: {what} 100 MiB", "rss_growth_mib"), 32, False)
        for server in ("make run", "gunicorn")
        for what in ("download", "upload")
    ),
    # Redis's distributed modes against the single Redis (issue 10); the WAIT
    # ratio is reported only: its cost is the replica's round trip.
    Target("make run GET, 3-primary cluster / single Redis",
           _ratio("make run, cluster: GET", GET), 0.8, True),
    Target("make run POST, 3-primary cluster / single Redis",
           _ratio("make run, cluster: POST /stashes with expire", POST), 0.7, True),
    Target("make run GET, Sentinel / single Redis",
           _ratio("make run, sentinel: GET", GET), 0.8, True),
    Target("make run POST, Sentinel / single Redis",
           _ratio("make run, sentinel: POST /stashes with expire", POST), 0.7, True),
    Target("make run POST, Sentinel with WAIT 1 / single Redis",
           _ratio("make run, sentinel, WAIT 1: POST /stashes with expire", POST),
           0, True),
)  # fmt: skip


def _reps(results: Results) -> list[Rep]:
    reps: dict[int, Rep] = {}
    for run in results.runs:
        reps.setdefault(run["rep"], {})[run["case"]] = run
    return [reps[n] for n in sorted(reps)]


def summarize(results: Results) -> dict[str, Any]:
    """Per case the medians of its figures; per target its verdict."""
    reps = _reps(results)
    cases: dict[str, dict[str, Any]] = {}
    for run in results.runs:
        cases.setdefault(run["case"], {"runs": []})["runs"].append(run)
    for name, case in cases.items():
        runs = case.pop("runs")
        for figure in ("rps", "p50_ms", "p99_ms", "cpu_us", "redis_cpu_us"):
            case[figure] = statistics.median(run[figure] for run in runs)
        ratios = [
            rep[name]["rps"] / rep[WEBDIS_GET]["rps"]
            for rep in reps
            if name in rep and WEBDIS_GET in rep
        ]
        case["x_webdis"] = statistics.median(ratios) if ratios else None
        if all("mb_per_s" in run for run in runs):
            for figure in ("mb_per_s", "rss_growth_mib"):
                case[figure] = statistics.median(run[figure] for run in runs)
            # Downloads beside nginx's, uploads beside the hashing they include.
            transfer = runs[0]["transfer"]
            references = {"download": NGINX, "upload": HASHING}.get(transfer, {})
            reference = references.get(runs[0]["archive"], "")
            ratios = [
                rep[name]["rps"] / rep[reference]["rps"]
                for rep in reps
                if name in rep and reference in rep
            ]
            case["x_reference"] = statistics.median(ratios) if ratios else None
        case["errors"] = sum(run["errors"] + run["non_2xx"] for run in runs)
        case["reps"] = len(runs)
    targets = []
    for target in TARGETS:
        values = []
        for rep in reps:
            try:
                values.append(target.measure(rep))
            except KeyError:
                pass  # a case not run, or failed, in this repetition
        value = statistics.median(values) if values else None
        targets.append({
            "target": target.name,
            "goal": target.goal,
            "value": value,
            "per_rep": values,
            "met": value is not None and target.met(value),
        })  # fmt: skip
    bad = sum(1 for run in results.runs if run["errors"] or run["non_2xx"])
    targets.append({
        "target": "runs with errors or non-2xx, and failed runs",
        "goal": "= 0",
        "value": bad + len(results.failed),
        "per_rep": [],
        "met": bad + len(results.failed) == 0,
    })  # fmt: skip
    return {"cases": cases, "targets": targets}


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (w - 1) + ":" if i in right else "-" * w for i, w in enumerate(widths)
    ]
    return "\n".join([line(header), line(rule), *map(line, rows)])


def render(summary: dict[str, Any], results: Results, machine: dict[str, str]) -> str:
    """The report as Markdown: readable in a terminal, and pasted into the docs."""
    rows = []
    for name, case in summary["cases"].items():
        ratio = case["x_webdis"]
        rows.append([
            name,
            f"{case['rps']:,.0f}",
            "–" if ratio is None else f"{ratio:.2f}",
            f"{case['p50_ms']:.2f}",
            f"{case['p99_ms']:.2f}",
            f"{case['cpu_us']:,.0f}",
            f"{case['redis_cpu_us']:,.0f}",
            str(case["errors"]),
        ])  # fmt: skip
    header = ["case", "req/s", "x webdis GET", "p50 ms", "p99 ms", "CPU µs/req",
              "of it Redis", "errors"]  # fmt: skip
    parts = [
        "## Figures (medians over repetitions)",
        _table(header, rows, right={1, 2, 3, 4, 5, 6, 7}),
    ]
    rows = []
    for name, case in summary["cases"].items():
        if "mb_per_s" not in case:
            continue
        ratio = case["x_reference"]
        rows.append([
            name,
            f"{case['mb_per_s']:,.0f}",
            f"{case['rps']:,.1f}",
            "–" if ratio is None else f"{ratio:.2f}",
            f"{case['p50_ms']:.1f}",
            f"{case['rss_growth_mib']:.1f}",
        ])  # fmt: skip
    if rows:
        header = ["archive case", "MB/s", "req/s", "x reference", "p50 ms",
                  "server memory growth, MiB"]  # fmt: skip
        parts += [
            "## Archives (medians over repetitions)",
            "x reference: a download's rate over nginx's for the same file, an "
            "upload's over its two digests computed alone, in the same repetition.",
            _table(header, rows, right={1, 2, 3, 4, 5}),
        ]
    parts.append("## Targets")
    rows = []
    for target in summary["targets"]:
        value = target["value"]
        per_rep = ", ".join(f"{v:.2f}" for v in target["per_rep"])
        rows.append([
            target["target"],
            target["goal"],
            "not measured" if value is None else f"{value:.2f}",
            per_rep,
            "PASS" if target["met"] else "FAIL",
        ])  # fmt: skip
    header = ["target", "goal", "median", "per repetition", "result"]
    parts.append(_table(header, rows, right={2}))
    if results.skipped or results.failed:
        notes = [f"- {name}: skipped, {why}" for name, why in results.skipped.items()]
        notes += [
            f"- {f['case']} (repetition {f['rep'] + 1}): FAILED, {f['error']}"
            for f in results.failed
        ]
        parts += ["## Skipped and failed", "\n".join(notes)]
    if results.memory:
        parts += ["## Redis memory per stash", memory_text(results.memory)]
    loads = [run["load_average"] for run in results.runs]
    if loads:
        spread = f"{min(loads):.1f} to {max(loads):.1f}"
        machine = {**machine, "load average (1 min) after each run": spread}
    parts += ["## Machine", "\n".join(f"- {k}: {v}" for k, v in machine.items())]
    return "\n\n".join(parts) + "\n"


def memory_text(memory: dict[str, int]) -> str:
    count = memory["stashes"]
    index, expiry = memory["index_bytes"], memory["expiry_bytes"]
    share = (index + expiry) / count
    content = memory["content_key_bytes"]
    verdict = "below" if share < content else "NOT below"
    return (
        f"At {count:,} stashes, a typical silence ({memory['content_json_bytes']} "
        f"bytes of JSON) costs {content} bytes in its content key (`MEMORY USAGE`), "
        f"plus {share:.0f} bytes as its share of the index ({index:,} bytes) "
        f"and the expiry schedule ({expiry:,} bytes): "
        f"{content + share:.0f} bytes in all. The index overhead is {verdict} the "
        "content size."
    )


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (done.stdout or done.stderr).strip()


def machine(command: str) -> dict[str, str]:
    """What the figures were measured on, and with what."""
    with open("/proc/cpuinfo") as cpuinfo:
        models = [ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln]
    os_name = "unknown"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    packages = ("granian", "gunicorn", "flask", "redis", "hiredis")
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)
    redis_words = _run([redis_binary(), "--version"]).split()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": _run(["git", "describe", "--always", "--dirty"]),
        "CPU": f"{models[0] if models else 'unknown'}, {os.cpu_count()} cores",
        "system": f"{os_name}, Linux {platform.release()}",
        "Python": f"{platform.python_version()}; {versions}",
        "Redis server": " ".join(
            [redis_words[0] if redis_words else "unknown"]
            + [w[2:] for w in redis_words if w.startswith("v=")]
        ),
        "webdis": _run(["dpkg-query", "-W", "-f=${Version}", "webdis"]),
        "wrk": _run(["wrk", "-v"]).splitlines()[0],
    }
