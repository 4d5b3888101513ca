"""Temp blobs: written, hashed and counted chunk by chunk, large chunks on other
threads (archives/blobs.py)."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from archives.blobs import BlobStore
from tests.archives.helpers import cached_pages, drops_clean_pages


def test_temp_blob_hashes_and_writes_small_and_large_chunks_in_order(tmp_path):
    store = BlobStore(str(tmp_path))
    temp = store.temp()
    chunks = [os.urandom(n) for n in (10, 200_000, 3, 1 << 20, 70_000, 1)]
    for chunk in chunks:
        temp.write(chunk)
    data = b"".join(chunks)
    assert temp.id == hashlib.sha512(data).hexdigest()
    assert temp.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert temp.size == len(data) and temp.head == data[:512]
    temp.close()
    with open(temp.path, "rb") as file:
        assert file.read() == data
    assert store.commit(temp) is True
    assert oct(os.stat(store.path(temp.id)).st_mode & 0o777) == "0o400"


class FullDisk:
    closed = False

    def write(self, data: memoryview) -> int:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.closed = True


def test_temp_blob_write_error_comes_with_flush_and_discard_drops_it(tmp_path):
    temp = BlobStore(str(tmp_path)).temp()
    temp.file.close()
    temp.file = FullDisk()  # type: ignore[assignment]
    temp.write(b"x" * (1 << 20))  # handed over: its error comes later
    with pytest.raises(OSError, match="No space left"):
        temp.flush()
    temp.write(b"y" * (1 << 20))
    temp.discard()
    assert not os.path.exists(temp.path)


def test_a_sync_started_early_is_the_one_finish_waits_for(tmp_path, monkeypatch):
    import archives.blobs

    synced: list[tuple[str, int]] = []  # (thread, file size) of each fsync
    real = archives.blobs.os.fsync

    def fsync(fd: int) -> None:
        synced.append((threading.current_thread().name, os.fstat(fd).st_size))
        real(fd)

    monkeypatch.setattr(archives.blobs.os, "fsync", fsync)
    store = BlobStore(str(tmp_path))
    temp = store.temp()
    temp.write(b"a" * (1 << 20))
    store.start_sync(temp)
    temp.close()
    temp.finish()
    assert [size for _, size in synced] == [1 << 20]
    assert not synced[0][0].startswith("MainThread")
    # Bytes stored already never start on their way to the disk.
    assert store.commit(temp) is True
    synced.clear()
    again = store.temp()
    again.write(b"a" * (1 << 20))
    store.start_sync(again)
    assert store.commit(again) is False
    assert synced == []
    # Bytes written after the sync began are not covered by it: finish syncs them.
    later = store.temp()
    later.write(b"b" * 10)
    later.start_sync()
    later.write(b"c" * 10)
    later.finish()
    assert (threading.current_thread().name, 20) in synced


def test_same_bytes_take_the_place_of_a_blob_gc_moved_aside(tmp_path, monkeypatch):
    # GC moves a blob out of place before it decides (BlobStore.remove_unless): an
    # upload of the same bytes that saw it a moment before must not count on it.
    import archives.blobs

    store = BlobStore(str(tmp_path))
    data = os.urandom(4096)
    first = store.temp()
    first.write(data)
    assert store.commit(first) is True
    final = store.path(first.id)
    real = archives.blobs.os.utime

    def gc_first(path: str, *args: object) -> None:
        os.rename(final, str(tmp_path / "aside"))  # GC, between the look and here
        real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(archives.blobs.os, "utime", gc_first)
    again = store.temp()
    again.write(data)
    assert store.commit(again) is True
    with open(final, "rb") as file:
        assert file.read() == data


@pytest.mark.parametrize("cached", [True, False])
def test_a_new_blob_leaves_the_page_cache_once_on_disk_unless_kept(tmp_path, cached):
    if not drops_clean_pages(str(tmp_path)):
        pytest.skip("this filesystem keeps every page of its files in memory")
    store = BlobStore(str(tmp_path))
    temp = store.temp()
    temp.write(os.urandom(1 << 20))
    temp.close()
    assert cached_pages(temp.path) == 256  # written: every page still in memory
    assert store.commit(temp, cached=cached) is True
    path = store.path(temp.id)
    assert cached_pages(path) == (256 if cached else 0)
    with open(path, "rb") as file:  # read back whole from the disk
        assert hashlib.sha512(file.read()).hexdigest() == temp.id
