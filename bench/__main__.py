"""``python -m bench`` (``make bench``): see docs/benchmarks.md."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict

from bench import report
from bench.measure import Options, log
from bench.run import Bench

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
# The load generators and webdis, by the Debian package that has each.
TOOLS = {
    "wrk": "wrk",
    "ab": "apache2-utils",
    "webdis": "webdis",
    "nginx": "nginx",
    "curl": "curl",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="stashd's benchmark, side by side with webdis (docs/benchmarks.md)",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of each run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="warm-up before each run (default 2)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1, see the docs)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 repetition of 3 s runs, 1 s warm-ups"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only the cases whose name contains TEXT (repeatable)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, Redis data)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.seconds, args.warmup = 1, 3, 1
    return args


def ensure_tools() -> None:
    """wrk, ab and webdis from Debian: installed when missing and running as root."""
    missing = [package for tool, package in TOOLS.items() if not shutil.which(tool)]
    if not missing:
        return
    apt = ["apt-get", "install", "-y", *missing]
    if os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}; install with: sudo {' '.join(apt)}")
    log(f"installing {', '.join(missing)}: {' '.join(apt)}")
    subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
    subprocess.run(apt, check=True, timeout=600)


def main(argv: list[str]) -> int:
    args = parse(argv)
    # Stopped with SIGTERM too, it stops what it started first (as on Ctrl-C).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    ensure_tools()
    options = Options(
        reps=args.reps,
        seconds=args.seconds,
        warmup=args.warmup,
        threads=args.threads,
        only=tuple(args.only),
    )
    command = " ".join(["python -m bench", *argv])
    machine = report.machine(command)
    workdir = tempfile.mkdtemp(prefix="stashd-bench-")
    try:
        results = Bench(options, workdir).run()
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = report.summarize(results)
    print()
    print(report.render(summary, results, machine))
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    path = os.path.join(RESULTS, f"{stamp}.json")
    with open(path, "w") as file:
        document = {
            "machine": machine,
            "options": asdict(options),
            "summary": summary,
            "results": asdict(results),
        }
        json.dump(document, file, indent=1)
    log(f"raw results: {os.path.relpath(path)}")
    # A target missed is a finding; a run that failed or erred is a broken benchmark.
    broken = results.failed or any(r["errors"] or r["non_2xx"] for r in results.runs)
    return 1 if broken else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted; what it started is stopped", file=sys.stderr)
        sys.exit(130)
