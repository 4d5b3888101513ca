"""Measuring one case on a started server: the warm-up, the measured run and its
figures, with DELETE's pool of stashes; also the options a benchmark takes and the
results it collects. A run's CPU time is that of the server's whole process tree
plus Redis, read from /proc just before and just after the measured run.
"""

from __future__ import annotations

import base64
import math
import os
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import archives
from bench.cases import Case, Group
from bench.data import Loader, without_fsync
from bench.ha import Setup
from bench.load import Request, Run, ab, check, read_requests, write_requests, wrk
from bench.procs import cpu_seconds
from bench.servers import Redis, Server
from core.settings import DEFAULTS

# DELETE needs a fresh stash for every request: it gets this many times the best
# rate its server reached in the repetition so far (on GET, a cheaper call), for
# the length of the run. Too few would show as 404s, reported as errors.
DELETE_POOL_MARGIN = 1.5
# The rate assumed when nothing was measured on the server first.
_DEFAULT_RATE = 30_000


@dataclass
class Options:
    reps: int = 3
    seconds: int = 10
    warmup: int = 2
    threads: int = 1
    only: tuple[str, ...] = ()  # run only cases whose name holds one of these


@dataclass
class Results:
    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # case name -> why
    failed: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)


class Measuring:
    """The measuring half of `bench.run.Bench`, which sets these attributes."""

    options: Options
    workdir: str
    redis: Redis
    results: Results
    files: dict[str, str]
    archives: dict[str, archives.Archive]
    setups: dict[str, Setup]
    user: str
    password: str
    api_key: str

    def redis_pids(self, group: Group) -> list[int]:
        if group.redis == "single":
            return [self.redis.process.pid]
        return self.setups[group.redis].pids()

    def headers(self, case: Case) -> list[str]:
        if case.auth == "basic":
            pair = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return [f"Authorization: Basic {pair}"]
        if case.auth == "key":
            return [f"Authorization: Key {self.api_key}"]
        return []

    def run_case(self, server: Server, group: Group, case: Case, rep: int) -> None:
        headers = self.headers(case)
        pool = None
        if case.order == "sequence":
            pool = DeletePool(self.redis, self.workdir, rep)
            pool.fill(self.rate(group, rep), self.options.warmup, self.options.seconds)
            check_file, warm, run = pool.files
        elif case.tool in ("upload", "hash"):  # the archive's file is what is sent
            check_file = warm = run = ""
        else:
            check_file = warm = run = self.files[case.requests]
        if case.tool == "ab":
            # ab sends one URL: one of the file's, picked at random for this run.
            warm = run = random.choice(read_requests(check_file))
        # Archive cases: how far the server's memory grows while it moves them.
        watch = archives.RSSWatch(server.process.tree()) if case.archive else None
        try:
            if check_file:
                check(server.url, check_file, headers)
            if self.options.warmup:
                self.send(server, case, headers, warm, self.options.warmup)
            pids = server.process.tree()
            redis_pid = self.redis_pids(group)
            before = cpu_seconds(pids), cpu_seconds(redis_pid)
            figures = self.send(server, case, headers, run, self.options.seconds)
            cpu = cpu_seconds(pids) - before[0]
            redis_cpu = cpu_seconds(redis_pid) - before[1]
        finally:
            if pool is not None:
                pool.empty()
            grown = watch.stop() if watch is not None else 0
        if not figures.requests:
            raise RuntimeError("no request was answered")
        result = {
            "rep": rep,
            "case": case.name,
            "group": group.label,
            "connections": case.connections,
            "tool": case.tool,
            **asdict(figures),
            "rps": figures.rps,
            # Server and Redis together: the figure compared across servers.
            "cpu_us": (cpu + redis_cpu) / figures.requests * 1e6,
            "redis_cpu_us": redis_cpu / figures.requests * 1e6,
            # What else kept the machine busy: it is shared.
            "load_average": os.getloadavg()[0],
        }
        if case.archive:
            size = self.archives[case.archive].size
            result["archive"] = case.archive
            result["transfer"] = {"upload": "upload", "hash": "hash"}.get(
                case.tool, "download"
            )
            result["mb_per_s"] = figures.rps * size / 1e6
            result["rss_growth_mib"] = grown / (1 << 20)
        self.results.runs.append(result)
        bad = ""
        if figures.errors or figures.non_2xx:
            bad = f", {figures.errors} errors, {figures.non_2xx} non-2xx: FAILED"
        if case.archive:
            bad += (
                f", {result['mb_per_s']:,.0f} MB/s, "
                f"memory +{result['rss_growth_mib']:.1f} MiB"
            )
        log(
            f"  {case.name}: {figures.rps:,.0f} req/s, p50 {figures.p50_ms:.2f} ms, "
            f"p99 {figures.p99_ms:.2f} ms, {result['cpu_us']:.0f} CPU-µs/req "
            f"({result['redis_cpu_us']:.0f} in Redis){bad}"
        )

    def send(
        self,
        server: Server,
        case: Case,
        headers: list[str],
        requests: str | Request,
        seconds: int,
    ) -> Run:
        """One load run: wrk over a request file, ab with one request, or uploads
        of an archive."""
        if case.tool == "upload":
            archive = self.archives[case.archive]
            return archives.upload(server.port, headers[0], archive, seconds)
        if case.tool == "hash":
            return archives.hash_floor(self.archives[case.archive], seconds)
        if isinstance(requests, Request):
            return ab(
                server.url,
                requests,
                connections=case.connections,
                seconds=seconds,
                headers=headers,
                workdir=self.workdir,
            )
        return wrk(
            server.url,
            requests,
            connections=case.connections,
            seconds=seconds,
            threads=self.options.threads,
            headers=headers,
            order=case.order,
        )

    def rate(self, group: Group, rep: int) -> float:
        """The best rate measured so far on this group's server in this repetition."""
        rates = [
            run["rps"]
            for run in self.results.runs
            if run["group"] == group.label and run["rep"] == rep
        ]
        return max(rates, default=_DEFAULT_RATE)


def log(message: str) -> None:
    print(message, flush=True)


class DeletePool:
    """Stashes for DELETE to find: one request file each for the check, warm-up, run.

    Each file names stashes stored just before, one per request wrk may send in that
    phase, so every DELETE finds its stash; `empty` removes what is left.
    """

    def __init__(self, redis: Redis, workdir: str, rep: int) -> None:
        self.redis = redis
        self.workdir = workdir
        self.rep = rep
        self.loader = Loader(redis.url, DEFAULTS["KEY_PREFIX"])
        self.paths: dict[str, list[str]] = {}
        self.files: tuple[str, ...] = ()

    def fill(self, rate: float, warmup: int, seconds: int) -> None:
        """Store enough stashes for each phase, given the server's best `rate`."""
        rate *= DELETE_POOL_MARGIN
        sizes = {
            "check": 1,
            "warm": math.ceil(rate * warmup) + 1_000,
            "run": math.ceil(rate * seconds) + 1_000,
        }
        files = []
        with without_fsync(self.redis.admin):
            for phase, size in sizes.items():
                paths = [f"delete/r{self.rep}/{phase}/{n:07d}" for n in range(size)]
                self.loader.put(paths)
                self.paths[phase] = paths
                requests = (Request("DELETE", f"/stash/{path}") for path in paths)
                name = os.path.join(self.workdir, f"delete-{phase}.requests")
                files.append(write_requests(name, requests))
        self.files = tuple(files)

    def empty(self) -> None:
        """Delete the stashes DELETE did not reach, so 10,000 are left again."""
        with without_fsync(self.redis.admin):
            for paths in self.paths.values():
                self.loader.delete(paths)
