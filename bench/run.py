"""The benchmark run: data, then repetitions of every group, each server in turn.

Repetitions are the outer loop: each one starts every server afresh and runs all
its cases, so a ratio to webdis compares runs minutes apart, not a whole benchmark
apart. A run's CPU time is that of the server's whole process tree plus Redis, read
from /proc just before and just after the measured run.
"""

from __future__ import annotations

import base64
import math
import os
import random
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import archives, assets, cases, silences
from bench.cases import Case, Group
from bench.data import Loader, silence_path, without_fsync
from bench.ha import Setup, make_setup
from bench.load import Request, Run, ab, check, read_requests, write_requests, wrk
from bench.procs import cpu_seconds
from bench.servers import Redis, Server, make_server, nginx, stashd_env, webdis
from bench.silences import SilenceLoader
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


class Bench:
    """One benchmark: its private Redis, its files in `workdir`, its results."""

    def __init__(self, options: Options, workdir: str) -> None:
        self.options = options
        self.workdir = workdir
        self.redis = Redis(workdir)
        self.results = Results()
        self.files: dict[str, str] = {}
        self.user, self.password = "bench", secrets.token_urlsafe(12)
        self.api_key = str(uuid.uuid4())
        self.assets_missing: str | None = None  # None: not looked at yet
        self.archives: dict[str, archives.Archive] = {}
        self.server: Server | None = None
        self.setups: dict[str, Setup] = {}  # Redis's distributed modes, once started
        self.loaded: set[tuple[str, str]] = set()  # (mode, key prefix) loaded there
        # Stashes per key prefix; the rest hold cases.STASHES.
        self.sizes = {cases.list_prefix(n): s for n, s in cases.LIST_SIZES.items()}

    def selected(self, case: Case) -> bool:
        return not self.options.only or any(s in case.name for s in self.options.only)

    def groups(self) -> list[tuple[Group, list[Case]]]:
        chosen = [(g, [c for c in g.cases if self.selected(c)]) for g in cases.GROUPS]
        return [(group, picked) for group, picked in chosen if picked]

    def run(self) -> Results:
        """Everything; stops whatever it started, also on errors and Ctrl-C."""
        try:
            self.redis.start()
            self.prepare()
            for rep in range(self.options.reps):
                for group, picked in self.groups():
                    self.run_group(group, picked, rep)
        finally:
            if self.server is not None:
                self.server.stop()
            for setup in self.setups.values():
                setup.stop()
            self.redis.stop()
        return self.results

    def redis_url(self, group: Group) -> str:
        """The Redis `group` runs on; a distributed mode is started and loaded
        with the stashes the first time."""
        if group.redis == "single":
            return self.redis.url
        setup = self.setups.get(group.redis)
        if setup is None:
            setup = make_setup(group.redis, self.workdir)
            self.setups[group.redis] = setup
            setup.start()
        prefix = group.settings.get("STASHD_KEY_PREFIX", DEFAULTS["KEY_PREFIX"])
        if (group.redis, prefix) not in self.loaded:
            self.loaded.add((group.redis, prefix))
            size = self.sizes.get(prefix, cases.STASHES)
            started = time.monotonic()
            loader = Loader(setup.url, prefix)
            try:
                loader.put(silence_path(n) for n in range(size))
                if loader.count() != size:
                    raise RuntimeError(f"{group.redis}: {loader.count()} stashes")
            finally:
                loader.close()
            seconds = time.monotonic() - started
            log(f"loaded {size:,} stashes on {group.redis} in {seconds:.1f} s")
        return setup.url

    def redis_pids(self, group: Group) -> list[int]:
        if group.redis == "single":
            return [self.redis.process.pid]
        return self.setups[group.redis].pids()

    def prepare(self) -> None:
        """Load the stashes (and silences) and write the fixed request files."""
        self.files = cases.request_files(self.workdir)
        wanted = {c.requests for _, picked in self.groups() for c in picked}
        if any(c.archive for _, picked in self.groups() for c in picked):
            started = time.monotonic()
            self.archives = archives.make(self.workdir)
            self.files |= archives.request_files(self.workdir, self.archives)
            log(f"wrote the archives in {time.monotonic() - started:.1f} s")
        sets = {DEFAULTS["KEY_PREFIX"]: cases.STASHES}
        for name, size in cases.LIST_SIZES.items():
            # 100k: the memory report
            if any(w.startswith(f"list-{name}") for w in wanted) or name == "100k":
                sets[cases.list_prefix(name)] = size
        with without_fsync(self.redis.admin):
            for prefix, size in sets.items():
                started = time.monotonic()
                loader = Loader(self.redis.url, prefix)
                loader.put(silence_path(n) for n in range(size))
                if loader.count() != size:
                    raise RuntimeError(
                        f"{prefix}: {loader.count()} stashes, not {size}"
                    )
                self.results.load_seconds[prefix] = time.monotonic() - started
                seconds = self.results.load_seconds[prefix]
                log(f"loaded {size:,} stashes under {prefix} in {seconds:.1f} s")
                if prefix == cases.list_prefix("100k"):
                    self.results.memory = loader.memory(silence_path(0))
            if any(name.startswith("silenced") for name in wanted):
                self.load_silences()

    def load_silences(self) -> None:
        """The 10,000 silencing entries of the match cases, checked before use."""
        started = time.monotonic()
        loader = SilenceLoader(self.redis.url, DEFAULTS["KEY_PREFIX"])
        try:
            loader.put(silences.entries())
            if loader.count() != silences.ENTRIES:
                raise RuntimeError(
                    f"{loader.count()} silencing entries, not {silences.ENTRIES}"
                )
            loader.check()
        finally:
            loader.close()
        seconds = self.results.load_seconds["silenced"] = time.monotonic() - started
        log(f"loaded {silences.ENTRIES:,} silencing entries in {seconds:.1f} s")

    def start(self, group: Group) -> Server:
        settings = dict(group.settings)
        if group.auth:
            settings["STASHD_API_USER"] = self.user
            settings["STASHD_API_PASSWORD"] = self.password
            settings["STASHD_API_KEY"] = self.api_key
        if group.archives:
            settings["STASHD_DATA_DIR"] = os.path.join(self.workdir, "data")
            settings["STASHD_ARCHIVE_GC_INTERVAL_SECONDS"] = "0"
        if group.kind == "webdis":
            server = webdis(self.redis.socket, self.workdir)
        elif group.kind == "nginx":
            server = nginx(archives.nginx_root(self.workdir), self.workdir)
        else:
            env = stashd_env(self.redis_url(group), **settings)
            server = make_server(group.kind, env, self.workdir)
        self.server = server
        server.start()
        return server

    def headers(self, case: Case) -> list[str]:
        if case.auth == "basic":
            pair = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return [f"Authorization: Basic {pair}"]
        if case.auth == "key":
            return [f"Authorization: Key {self.api_key}"]
        return []

    def run_group(self, group: Group, picked: list[Case], rep: int) -> None:
        log(f"rep {rep + 1}/{self.options.reps}: {group.label}")
        try:
            server = self.start(group)
        except RuntimeError as exc:
            for case in picked:
                self.fail(case, rep, f"server did not start: {exc}")
            self.stop_server()
            return
        try:
            if group.archives:  # the downloads need them; stored the first time
                header = self.headers(picked[0])[0]
                archives.store(server.port, header, self.archives)
            for case in picked:
                if case.needs_assets and not self.assets_ready(server, case):
                    continue
                try:
                    self.run_case(server, group, case, rep)
                except RuntimeError as exc:
                    self.fail(case, rep, str(exc))
        finally:
            self.stop_server()

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def assets_ready(self, server: Server, case: Case) -> bool:
        """Whether the asset cases can run; their data is stored the first time."""
        if self.assets_missing is None:
            header = self.headers(case)[0]
            self.assets_missing = assets.missing(server.port, header)
            if not self.assets_missing:
                log("storing 1,000 and 10,000 assets through the API")
                self.files |= assets.request_files(server.port, header, self.workdir)
        if self.assets_missing:
            self.results.skipped[case.name] = self.assets_missing
            log(f"  {case.name}: skipped, {self.assets_missing}")
        return not self.assets_missing

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

    def fail(self, case: Case, rep: int, why: str) -> None:
        self.results.failed.append({"rep": rep, "case": case.name, "error": why})
        log(f"  {case.name}: FAILED: {why}")


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
