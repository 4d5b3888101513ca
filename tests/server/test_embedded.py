"""The embedded Redis: its binary, its private files, and data from earlier releases."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
import redis

from server.embedded import EmbeddedRedis, executable, make_private


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_executable_is_the_valkey_server_of_the_wheel():
    version = subprocess.run(
        [executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("Valkey server v=8.")


def test_make_private_creates_the_data_dir_0700(tmp_path):
    data_dir = tmp_path / "a" / "data"
    make_private(str(data_dir))
    assert mode(data_dir) == 0o700


def test_make_private_closes_what_an_earlier_release_left_open(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "appendonlydir").mkdir(parents=True)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "appendonlydir", 0o755)
    for name in (
        "redis.log",
        "appendonly.aof",
        "appendonlydir/appendonly.aof.1.incr.aof",
    ):
        (data_dir / name).write_text("")
        os.chmod(data_dir / name, 0o644)
    (data_dir / "notes.txt").write_text("")  # not stashd's: left as it is
    os.chmod(data_dir / "notes.txt", 0o644)
    make_private(str(data_dir))
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "appendonlydir") == 0o700
    assert mode(data_dir / "redis.log") == 0o600
    assert mode(data_dir / "appendonly.aof") == 0o600
    assert mode(data_dir / "appendonlydir" / "appendonly.aof.1.incr.aof") == 0o600
    assert mode(data_dir / "notes.txt") == 0o644


@pytest.mark.integration
def test_embedded_redis_writes_only_private_files(tmp_path):
    data_dir = tmp_path / "data"
    embedded = EmbeddedRedis(str(data_dir))
    embedded.start()
    try:
        client = redis.Redis.from_url(embedded.url)
        client.set("k", "v")
        client.bgrewriteaof()
        client.close()
    finally:
        embedded.stop()
    found = {
        os.path.join(root, name)
        for root, dirs, files in os.walk(data_dir)
        for name in [*dirs, *files]
    }
    assert len(found) >= 4
    assert {path: oct(mode(path)) for path in found if mode(path) & 0o077} == {}


@pytest.mark.integration
def test_embedded_redis_reads_the_append_only_file_of_redis_6(tmp_path):
    """Earlier releases' data dirs hold appendonly.aof, as redis-server 6.2 wrote it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    commands = [["SELECT", "0"], ["SET", "kept", "from 6.2"], ["ZADD", "z", "0", "a"]]
    with open(data_dir / "appendonly.aof", "wb") as aof:
        for command in commands:
            aof.write(b"*%d\r\n" % len(command))
            for word in command:
                aof.write(b"$%d\r\n%s\r\n" % (len(word), word.encode()))
    embedded = EmbeddedRedis(str(data_dir))
    embedded.start()
    try:
        client = redis.Redis.from_url(embedded.url)
        assert client.get("kept") == b"from 6.2"
        assert client.zrange("z", 0, -1) == [b"a"]
        client.close()
    finally:
        embedded.stop()
    assert (data_dir / "appendonlydir").is_dir()
