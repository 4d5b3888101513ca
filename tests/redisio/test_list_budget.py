"""Lists read at most LIST_BUDGET of stored content per round trip (spec stashes.md
17.10): the stash and silenced stores, on fakeredis and on a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest
import redis

from redisio.calls import LIST_BUDGET
from redisio.clients import BlockingClient
from redisio.keys import Keys
from silenced.store import SilencedStore, Write
from stashes.store import StashStore

MIB = 1 << 20
KEYS = Keys("stashd")


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.integration)])
def runner(request) -> Iterator[BlockingClient]:
    if request.param == "fake":
        client = fakeredis.FakeRedis()
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_server").url)
        client.flushall()
    runner = BlockingClient(client)
    yield runner
    runner.close()
    client.close()


def content(size: int, tag: int = 0) -> bytes:
    """A JSON object of exactly `size` bytes."""
    start = b'{"n":%d,"x":"' % tag
    return start + b"x" * (size - len(start) - 2) + b'"}'


def stored_bytes(reply: object) -> int:
    if isinstance(reply, bytes):
        return len(reply)
    if isinstance(reply, list):
        return sum(map(stored_bytes, reply))
    return 0


class Driven:
    """Runs steps, recording the size of each batch's reply; `between` runs after
    each. A script that asks for the keys it reads (DECLARE_PRELUDE) is sent
    again with them: `trips` counts both round trips."""

    def __init__(self, runner: BlockingClient, between=lambda: None) -> None:
        self.runner = runner
        self.between = between
        self.sizes: list[int] = []
        self.trips = 0

    def __call__(self, steps):
        try:
            call = next(steps)
            while True:
                try:
                    reply = self.runner.execute(*call.args)
                except redis.exceptions.NoScriptError:
                    reply = self.runner.execute(*call.fallback())
                self.trips += 1
                while (wider := call.widened(reply)) is not None:
                    call = wider
                    reply = self.runner.execute(*call.args)
                    self.trips += 1
                self.sizes.append(stored_bytes(reply))
                self.between()
                call = steps.send(call.result(reply))
        except StopIteration as done:
            return done.value


def put_stashes(runner: BlockingClient, sizes: list[int]) -> list[str]:
    store = StashStore(KEYS)
    paths = [f"p{i:03d}" for i in range(len(sizes))]
    for i, (path, size) in enumerate(zip(paths, sizes, strict=True)):
        runner.run(store.put(path, content(size, i), None))
    return paths


def test_a_page_of_small_stashes_is_one_batch(runner):
    paths = put_stashes(runner, [100] * 300)
    drive = Driven(runner)
    total, items = drive(StashStore(KEYS).page(10, 200))
    assert total == 300
    assert [item.path for item in items] == paths[10:210]
    assert len(drive.sizes) == 1
    assert drive.trips == 2  # the first names the content keys the second reads


@pytest.mark.parametrize("method", ["page", "scan"])
def test_big_stashes_come_in_batches_of_at_most_the_budget(runner, method):
    paths = put_stashes(runner, [MIB] * 12)
    drive = Driven(runner)
    store = StashStore(KEYS)
    if method == "page":
        total, items = drive(store.page(1, 10))
        assert total == 12
        assert [item.path for item in items] == paths[1:11]
    else:
        items = drive(store.scan())
        assert [item.path for item in items] == paths
    assert all(item.content == content(MIB, int(item.path[1:])) for item in items)
    assert len(drive.sizes) >= 3
    assert max(drive.sizes) <= LIST_BUDGET + 4096  # paths and TTLs beside the content


def test_a_stash_bigger_than_the_budget_comes_alone(runner):
    paths = put_stashes(runner, [100, LIST_BUDGET + MIB, 100, 100])
    drive = Driven(runner)
    total, items = drive(StashStore(KEYS).page(0, 4))
    assert (total, [item.path for item in items]) == (4, paths)
    assert len(drive.sizes) == 3  # the small one, the big one, the rest


def test_a_page_resumes_after_the_last_path_read_not_by_rank(runner):
    # A stash deleted between two round trips must not shift the rest of the page.
    paths = put_stashes(runner, [MIB] * 8)
    store = StashStore(KEYS)
    deleted = []

    def delete_the_first() -> None:
        if not deleted:
            deleted.append(runner.run(store.delete(paths[0])))

    total, items = Driven(runner, delete_the_first)(store.page(1, 6))
    assert deleted == [True]
    assert total == 8  # counted before the delete
    assert [item.path for item in items] == paths[1:7]


def test_silenced_entries_come_in_batches_of_at_most_the_budget(runner):
    store = SilencedStore(KEYS)
    names = [f"web{i:02d}:*" for i in range(10)]
    for i, name in enumerate(names):
        write = Write({"sub": f"web{i:02d}", "reason": "r" * MIB}, 0)
        put = store.put("default", name, write, create=False, need_namespace=False)
        runner.run(put)
    drive = Driven(runner)
    total, entries = drive(store.page("default", 2, 7))
    assert total == 10
    assert [entry.name for entry in entries] == names[2:9]
    assert all(len(entry.fields["reason"]) == MIB for entry in entries)
    assert max(drive.sizes) <= LIST_BUDGET + 4096
    drive = Driven(runner)
    assert [entry.name for entry in drive(store.scan("default"))] == names
    assert len(drive.sizes) >= 4 and max(drive.sizes) <= LIST_BUDGET + 4096
