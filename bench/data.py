"""What the benchmark stores: typical silences, written the way stashd writes them.

Stashes go in through `StashStore.put` (one Lua script per stash, the content as
`strictjson.dumps` makes it, as ``POST /stashes`` does), so the keys, index and
expiry schedule are exactly what the service reads. Only the round trips differ:
the loader sends the store's commands in pipelines, so a million stashes load in
well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from core import strictjson
from core.settings_load import load
from redisio.calls import Call
from redisio.clients import make_client, make_runner
from redisio.keys import STASH_BUCKETS, Keys
from stashes.buckets import BucketedStashStore
from stashes.store import DELETE, PUT, StashStore

# Long enough to outlive any run; a silence usually has a TTL, so the expiry
# schedule is as full as the index.
TTL = 86_400
CHECKS = (
    "check_disk", "check_cpu", "check_memory", "check_load", "check_ntp",
    "check_http", "check_ssh", "check_swap", "check_inodes", "check_procs",
)  # fmt: skip
# Commands per pipeline: big enough to save the round trips, small enough to keep
# each reply short.
BATCH = 1_000
# Written and deleted outside any pipeline first, so Redis has the store's scripts
# cached before EVALSHA goes down a pipeline, where there is no fallback to EVAL.
_SCRATCH = "bench/scratch"


def silence_path(n: int) -> str:
    """The path of the `n`-th silence: ten checks on each client."""
    return f"silence/web-{n // len(CHECKS):06d}.example.com/{CHECKS[n % len(CHECKS)]}"


def silence(n: int) -> dict[str, Any]:
    """A typical silence as Uchiwa writes it: about 200 bytes of compact JSON."""
    return {
        "timestamp": 1_700_000_000 + n,
        "reason": "disk replacement scheduled for the next maintenance window, "
        f"see ticket OPS-{10_000 + n % 90_000} for details",
        "source": "uchiwa",
        "expire": TTL,
        "owner": "alice.martin@ops.example.com",
    }


class Loader:
    """Writes and deletes the stashes of one key prefix through `StashStore`."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        settings = load({"REDIS_URL": redis_url, "KEY_PREFIX": prefix})
        settings["REDIS_TIMEOUT"] = 60.0  # a pipeline of big writes takes a while
        self.client = make_client(settings)
        # On Redis Cluster, the stashes in their buckets, as the app keeps them.
        self.cluster = isinstance(self.client, redis.RedisCluster)
        self.keys = Keys(prefix, self.cluster)
        self.store: StashStore = (
            BucketedStashStore(self.keys, STASH_BUCKETS)
            if self.cluster
            else StashStore(self.keys)
        )
        self.runner = make_runner(settings, self.client)
        if self.cluster:  # a pipeline has no EVAL fallback: every primary needs them
            for script in (PUT, DELETE):
                self.client.execute_command(
                    "SCRIPT",
                    "LOAD",
                    script.source,
                    target_nodes=redis.RedisCluster.PRIMARIES,
                )
        run = self.runner.run
        run(self.store.put(_SCRATCH, b"{}", None))
        run(self.store.delete(_SCRATCH))

    def count(self) -> int:
        """Live stashes under this prefix."""
        total, _ = self.runner.drive(self.store.page(0, 0))
        return total

    def put(self, paths: Iterable[str]) -> None:
        """Store a silence at each path (the n-th gets ``silence(n)``)."""
        content = strictjson.dumps
        calls = (
            self.store.put(path, content(silence(n)), TTL)
            for n, path in enumerate(paths)
        )
        pipelined(self.client, calls)

    def close(self) -> None:
        self.runner.close()
        self.client.close()

    def delete(self, paths: Iterable[str]) -> None:
        """Delete the stashes at `paths`; absent ones are fine."""
        pipelined(self.client, (self.store.delete(path) for path in paths))

    def memory(self, path: str) -> dict[str, int]:
        """Redis bytes of one stash's content key, and of the index and expiry sets.

        ``MEMORY USAGE ... SAMPLES 0`` counts every element of the sorted sets.
        """
        usage = self.client.memory_usage
        return {
            "stashes": self.count(),
            "content_json_bytes": self.client.strlen(self.keys.stash(path)),
            "content_key_bytes": usage(self.keys.stash(path), samples=0),
            "index_bytes": usage(self.keys.stash_index, samples=0),
            "expiry_bytes": usage(self.keys.stash_expiry, samples=0),
        }


def pipelined(client: redis.Redis, calls: Iterable[Call]) -> None:
    """Send a store's own calls, `BATCH` to a pipeline: only round trips saved.

    Each call's script must be cached in Redis already: a pipeline has no EVAL
    fallback.
    """
    pipe = client.pipeline(transaction=False)
    for call in calls:
        pipe.execute_command(*call.args)
        if len(pipe) >= BATCH:
            pipe.execute()
    pipe.execute()


@contextmanager
def without_fsync(client: redis.Redis) -> Iterator[None]:
    """A bulk load with the AOF written but not fsynced after every write.

    What is loaded is thrown away after the run; measured runs fsync as configured.
    """
    (setting,) = client.config_get("appendfsync").values()
    client.config_set("appendfsync", "no")
    try:
        yield
    finally:
        client.config_set("appendfsync", setting)
