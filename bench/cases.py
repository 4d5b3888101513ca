"""The cases: each server as started for a repetition, and what is sent to it.

A `Group` is one server process, started for its cases and stopped after them; its
cases run in order, each with a warm-up and then the measured run. The request files
the cases name are built by `request_files` (once per benchmark), except DELETE's,
which is made per run (see bench/measure.py), and the assets' (bench/assets.py). The
silenced match questions come from bench/silences.py.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from urllib.parse import quote

from bench import silences
from bench.data import TTL, silence, silence_path
from bench.load import Request, write_requests
from core import strictjson
from core.settings import DEFAULTS
from redisio.keys import Keys

# Stashes every single-stash case picks from, at random.
STASHES = 10_000
# The stash counts the list page is measured at, each under its own key prefix.
LIST_SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1M": 1_000_000}
PAGE = 100
# Lines in a random-order request file: enough that repeats do not matter.
_MIX_LINES = 20_000


@dataclass(frozen=True)
class Case:
    name: str  # unique across groups: results, ratios and targets refer to it
    requests: str  # a request file name (see `request_files`)
    connections: int = 50
    auth: str = ""  # "basic" or "key": which Authorization header to send
    order: str = "random"  # "sequence": each line once, in order (bench/wrk.lua)
    tool: str = "wrk"  # or "ab": one request of the file, picked at random (HEAD);
    # or "upload": the archive, posted again and again with curl (bench/archives.py);
    # or "hash": its two digests computed here, what no upload can skip
    needs_assets: bool = False  # skipped while /api/core/v2 has no assets API
    archive: str = ""  # the archive a download or upload moves (archives.SIZES)


@dataclass(frozen=True)
class Group:
    label: str
    kind: str  # "webdis", or a kind of bench.servers.make_server
    cases: tuple[Case, ...]
    settings: dict[str, str] = field(default_factory=dict)  # STASHD_* beyond defaults
    auth: bool = False  # Basic auth and an API key on (STASHD_API_*)
    archives: bool = False  # archives stored under the benchmark's data directory
    # "single": the private Redis; "cluster" or "sentinel": bench/ha.py's setups,
    # each loaded with the 10,000 stashes the first time a group needs it.
    redis: str = "single"


def list_prefix(size: str) -> str:
    """The key prefix of the stashes the list page at `size` is measured on."""
    return f"bench-list-{size}"


def _list_group(size: str) -> Group:
    return Group(
        f"make run, {size} stashes",
        "granian",
        (Case(f"make run: list page, {size} stashes", f"list-{size}"),),
        settings={"STASHD_KEY_PREFIX": list_prefix(size)},
    )


# The nginx case each archive download is compared with, by archive; and the
# hashing each upload is.
NGINX = {"1m": "nginx: download 1 MiB", "100m": "nginx: download 100 MiB"}
HASHING = {
    "1m": "reference: SHA-512 + SHA-256 of 1 MiB",
    "100m": "reference: SHA-512 + SHA-256 of 100 MiB",
}
# Connections per download: a 100 MiB answer takes long enough that a few fill the
# machine, and each must come within wrk's 5 s.
_DOWNLOAD_CONNECTIONS = {"1m": 16, "100m": 2}
_SIZE_NAMES = {"1m": "1 MiB", "100m": "100 MiB"}


def _archive_group(label: str, kind: str, prefix: str) -> Group:
    """Downloads and uploads of both archives, with an API key as agents send it."""
    downloads = tuple(
        Case(
            f"{prefix}: download {_SIZE_NAMES[name]}",
            f"archive-{name}",
            connections=_DOWNLOAD_CONNECTIONS[name],
            auth="key",
            archive=name,
        )
        for name in _SIZE_NAMES
    )
    uploads = tuple(
        Case(
            f"{prefix}: upload {_SIZE_NAMES[name]}",
            "",
            connections=1,
            auth="key",
            tool="upload",
            archive=name,
        )
        for name in _SIZE_NAMES
    )
    return Group(label, kind, downloads + uploads, auth=True, archives=True)


ARCHIVE_GROUPS: tuple[Group, ...] = (
    Group(
        "nginx",
        "nginx",
        tuple(
            Case(
                NGINX[name],
                f"nginx-{name}",
                connections=_DOWNLOAD_CONNECTIONS[name],
                archive=name,
            )
            for name in _SIZE_NAMES
        )
        # Not nginx's: computed by the benchmark, while nginx idles.
        + tuple(
            Case(HASHING[name], "", connections=1, tool="hash", archive=name)
            for name in _SIZE_NAMES
        ),
    ),
    _archive_group("make run, archives", "granian", "make run"),
    _archive_group("gunicorn, archives", "gunicorn", "gunicorn"),
)


GROUPS: tuple[Group, ...] = (
    Group(
        "webdis",
        "webdis",
        (Case("webdis GET", "webdis-get"), Case("webdis SETEX", "webdis-setex")),
    ),
    Group("bare WSGI, granian", "bare-granian", (Case("bare GET, granian", "get"),)),
    Group(
        "make run",
        "granian",
        (
            Case("make run: GET", "get"),
            Case("make run: HEAD", "head", tool="ab"),
            Case("make run: GET, 64 connections", "get", connections=64),
            Case("make run: POST /stashes with expire", "post"),
            Case("make run: mix 90/9/1", "mix"),
            Case("make run: silenced match", "silenced-match"),
            # Last: it deletes stashes (others of its own, not the 10,000).
            Case("make run: DELETE", "delete", order="sequence"),
        ),
    ),
    # The same server counting no metrics: what /metrics costs the hot path.
    Group(
        "make run, metrics off",
        "granian",
        (
            Case("make run, metrics off: GET", "get"),
            Case("make run, metrics off: POST /stashes with expire", "post"),
        ),
        settings={"STASHD_METRICS": "false"},
    ),
    Group(
        "make run, auth on",
        "granian",
        (
            Case("make run: GET, Basic auth", "get", auth="basic"),
            Case("make run: HEAD, Basic auth", "head", auth="basic", tool="ab"),
            # The fast path, after a round trip for the API key.
            Case(
                "make run: silenced match, Sensu Go (API key)",
                "silenced-go-match",
                auth="key",
            ),
            *(
                Case(
                    f"make run: asset {what}, {size} assets",
                    f"asset-{kind}-{size}",
                    auth="key",
                    needs_assets=True,
                )
                for size in ("1k", "10k")
                for what, kind in (("GET", "get"), ("list page", "list"))
            ),  # fmt: skip
        ),
        auth=True,
    ),
    # make run switched to granian's WSGI interface: stashd's WSGI fast path on the
    # very settings the bare WSGI function runs with.
    Group(
        "make run, WSGI interface",
        "granian",
        (
            Case("make run, WSGI: GET", "get"),
            Case("make run, WSGI: POST /stashes with expire", "post"),
            Case("make run, WSGI: mix 90/9/1", "mix"),
        ),
        settings={"GRANIAN_INTERFACE": "wsgi"},
    ),
    *(_list_group(size) for size in LIST_SIZES),
    # The same server on Redis's distributed modes: compared with "make run".
    Group(
        "make run, Redis Cluster",
        "granian",
        (
            Case("make run, cluster: GET", "get"),
            Case("make run, cluster: POST /stashes with expire", "post"),
        ),
        redis="cluster",
    ),
    # The list page at 1M stashes, at offset 0 and half-way, on both: on a cluster
    # its rank search runs across the 16 buckets.
    *(
        Group(
            f"make run, 1M stashes{label}",
            "granian",
            tuple(
                Case(f"make run{case}: list page at {at}, 1M stashes", f"list-1M-{at}")
                for at in ("0", "500000")
            ),
            settings={"STASHD_KEY_PREFIX": list_prefix("1M")},
            redis=mode,
        )
        for label, case, mode in (
            ("", "", "single"),
            (", Redis Cluster", ", cluster", "cluster"),
        )
    ),  # fmt: skip
    Group(
        "make run, Sentinel",
        "granian",
        (
            Case("make run, sentinel: GET", "get"),
            Case("make run, sentinel: POST /stashes with expire", "post"),
        ),
        redis="sentinel",
    ),
    Group(
        "make run, Sentinel, WAIT 1",
        "granian",
        (Case("make run, sentinel, WAIT 1: POST /stashes with expire", "post"),),
        settings={"STASHD_REDIS_WAIT_REPLICAS": "1"},
        redis="sentinel",
    ),
    Group("bare WSGI, gunicorn", "bare-gunicorn", (Case("bare GET, gunicorn", "get"),)),
    Group(
        "gunicorn",
        "gunicorn",
        (
            Case("gunicorn: GET", "get"),
            Case("gunicorn: POST /stashes with expire", "post"),
            Case("gunicorn: mix 90/9/1", "mix"),
        ),
    ),
    *ARCHIVE_GROUPS,
)


def _post(n: int) -> Request:
    body = {"path": silence_path(n), "content": silence(n), "expire": TTL}
    return Request("POST", "/stashes", json.dumps(body, separators=(",", ":")))


def _page(size: int, rng: random.Random) -> Request:
    offset = rng.randrange(size - PAGE + 1)
    return Request("GET", f"/stashes?limit={PAGE}&offset={offset}")


def request_files(workdir: str, seed: int = 5) -> dict[str, str]:
    """Write every fixed request file into `workdir`; their paths by name."""
    rng = random.Random(seed)
    every = range(STASHES)
    stash_key = Keys(DEFAULTS["KEY_PREFIX"]).stash
    files = {
        "get": [Request("GET", f"/stash/{silence_path(n)}") for n in every],
        "head": [Request("HEAD", f"/stash/{silence_path(n)}") for n in every],
        "post": [_post(n) for n in every],
        # webdis takes command arguments as URL path segments, %-encoded.
        "webdis-get": [
            Request("GET", f"/GET/{quote(stash_key(silence_path(n)), safe='')}.txt")
            for n in every
        ],
        "webdis-setex": [
            Request(
                "GET",
                f"/SETEX/{quote(f'bench:setex:{silence_path(n)}', safe='')}/{TTL}/"
                + quote(strictjson.dumps(silence(n)), safe=""),
            )
            for n in every
        ],
    }
    # 90 % reads, 9 % writes, 1 % list pages, exactly; wrk then draws lines at random.
    mix = [
        *(Request("GET", f"/stash/{silence_path(rng.randrange(STASHES))}")
          for _ in range(_MIX_LINES * 90 // 100)),
        *(_post(rng.randrange(STASHES)) for _ in range(_MIX_LINES * 9 // 100)),
        *(_page(STASHES, rng) for _ in range(_MIX_LINES // 100)),
    ]  # fmt: skip
    rng.shuffle(mix)
    files["mix"] = mix
    files["silenced-match"] = list(silences.requests(go=False))
    files["silenced-go-match"] = list(silences.requests(go=True))
    for name, size in LIST_SIZES.items():
        files[f"list-{name}"] = [_page(size, rng) for _ in range(1_000)]
    for at in (0, 500_000):
        files[f"list-1M-{at}"] = [Request("GET", f"/stashes?limit={PAGE}&offset={at}")]
    return {
        name: write_requests(os.path.join(workdir, f"{name}.requests"), requests)
        for name, requests in files.items()
    }
