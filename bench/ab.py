"""``python -m bench.ab BEFORE``: one case, another checkout's server against this
one's, in turns.

`make bench` runs each server in turn, seconds to minutes apart, and on a shared
machine that moves a ratio more than a small change does. Here one Redis (with the
benchmark's data), webdis and both stashd servers (``python -m server`` from BEFORE
and from this checkout, e.g. a ``git worktree`` of the commit before) run at once,
and short wrk runs take turns: webdis GET, BEFORE, this checkout, the order
reversed every round, so that a slow stretch of the machine falls on all of them.
It prints each round, then the median and mean of this checkout's rate over
BEFORE's, and each server's CPU per request (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile

from bench import cases, silences
from bench.data import Loader, silence_path, without_fsync
from bench.load import wrk
from bench.measure import log
from bench.procs import cpu_seconds, descendants
from bench.servers import ROOT, Redis, Server, stashd_env, webdis
from core.settings import DEFAULTS

CONNECTIONS = 50


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("before", help="the checkout to compare this one with")
    parser.add_argument(
        "--case", default="silenced-match", help="a request file (bench/cases.py)"
    )
    parser.add_argument("--rounds", type=int, default=10, help="(default 10)")
    parser.add_argument("--seconds", type=int, default=4, help="per run (default 4)")
    return parser.parse_args(argv)


def load(redis: Redis) -> None:
    """The stashes and the silencing entries, as `make bench` loads them."""
    prefix = DEFAULTS["KEY_PREFIX"]
    with without_fsync(redis.admin):
        stashes = Loader(redis.url, prefix)
        try:
            stashes.put(silence_path(n) for n in range(cases.STASHES))
        finally:
            stashes.close()
        silences.write(redis.url, prefix)


def main(argv: list[str]) -> None:
    options = parse(argv)
    workdir = tempfile.mkdtemp(prefix="stashd-ab-")
    redis = Redis(workdir)
    servers: dict[str, Server] = {}
    try:
        redis.start()
        load(redis)
        files = cases.request_files(workdir)
        servers["webdis"] = webdis(redis.socket, workdir)
        for name, root in (("before", options.before), ("after", ROOT)):
            env = stashd_env(redis.url)
            port = int(env["STASHD_BIND"].rpartition(":")[2])
            argv = [sys.executable, "-m", "server"]
            servers[name] = Server(name, argv, port, workdir, env, root=root)
        for server in servers.values():
            server.start()
        request = {"webdis": files["webdis-get"]}
        request["before"] = request["after"] = files[options.case]
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        for name, server in servers.items():  # warm-up
            wrk(server.url, request[name], connections=CONNECTIONS, seconds=2)
        for round_ in range(options.rounds):
            order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
            for name in order:
                pid = servers[name].process.pid
                tree = [pid, *descendants(pid)]
                spent = cpu_seconds(tree)
                run = wrk(
                    servers[name].url,
                    request[name],
                    connections=CONNECTIONS,
                    seconds=options.seconds,
                )
                if run.errors or run.non_2xx:
                    raise RuntimeError(f"{name}: {run}")
                rates[name].append(run.rps)
                cpu[name].append((cpu_seconds(tree) - spent) / run.requests * 1e6)
            last = {name: f"{rates[name][-1]:,.0f}" for name in servers}
            log(f"round {round_ + 1}: req/s {last}")
        gains = [a / b for a, b in zip(rates["after"], rates["before"], strict=True)]
        log(f"after / before, per round: {', '.join(f'{g:.3f}' for g in gains)}")
        log(f"median {statistics.median(gains):.3f}, mean {statistics.mean(gains):.3f}")
        for name in servers:
            ratio = [r / w for r, w in zip(rates[name], rates["webdis"], strict=True)]
            log(
                f"{name}: / webdis GET median {statistics.median(ratio):.3f}, "
                f"{statistics.median(cpu[name]):.1f} CPU-µs/req (median)"
            )
    finally:
        for server in servers.values():
            server.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
