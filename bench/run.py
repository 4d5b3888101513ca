"""The benchmark run: data, then repetitions of every group, each server in turn.

Repetitions are the outer loop: each one starts every server afresh and runs all
its cases, so a ratio to webdis compares runs minutes apart, not a whole benchmark
apart. Measuring each case is `bench.measure`'s part.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid

from bench import archives, assets, cases, silences
from bench.cases import Case, Group
from bench.data import Loader, silence_path, without_fsync
from bench.ha import Setup, make_setup
from bench.measure import Measuring, Options, Results, log
from bench.servers import Redis, Server, make_server, nginx, stashd_env, webdis
from core.settings import DEFAULTS


class Bench(Measuring):
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
        silences.write(self.redis.url, DEFAULTS["KEY_PREFIX"])
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

    def fail(self, case: Case, rep: int, why: str) -> None:
        self.results.failed.append({"rep": rep, "case": case.name, "error": why})
        log(f"  {case.name}: FAILED: {why}")
