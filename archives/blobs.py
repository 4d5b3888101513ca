"""Archive bytes on disk: content-addressed blobs, written through temp files.

Layout under ``<STASHD_DATA_DIR>/archives`` (spec archives.md 4.1)::

    blobs/<id[0:2]>/<id[2:4]>/<id>   one blob per SHA-512, read-only once in place
    tmp/<random>.part                writes in progress

A blob is written to ``tmp/`` while hashed, fsynced, then renamed into place and its
directory fsynced: only then may a Redis record name it. So a crash leaves at most a
temp file or a blob nobody names, which garbage collection removes.

An uploaded or imported blob leaves the page cache once on disk (`commit` with
``cached=False``): its sender does not read it back, and agents fetch it later, when
one disk read brings it back. Kept, each upload grows the cache by its size, and
writing into memory the kernel has not used for a while cost six times as much as
writing into pages it just freed (240 against 40 ms for 100 MiB on the benchmark
machine, docs/benchmarks.md). A mirror's fetch keeps its blob cached: waiting agents
download it next.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from core.errors import ApiError

# Bytes kept from the start of an archive: the type is told from the first 262.
HEAD_BYTES = 512
# A large chunk is hashed and written on these threads, SHA-512 on one and SHA-256
# and the write on another, while the request's thread receives the next chunk:
# hashlib and the write let go of the GIL, so on two cores an upload takes about
# the time of its SHA-512 alone. Two threads per upload in flight.
_WORKERS = ThreadPoolExecutor(4, thread_name_prefix="blob")
# Smaller chunks cost more to hand over than to hash and write here.
_HANDED_OVER = 64 * 1024


class StorageFailed(ApiError):
    """The disk refused (full, I/O error): 500 ``archive storage failed: ...``."""

    status, kind = 500, 0

    @classmethod
    def of(cls, exc: OSError) -> StorageFailed:
        return cls(f"archive storage failed: {exc.strerror or exc}")


class TempBlob:
    """A file in ``tmp/`` being written, hashed (SHA-512, SHA-256) and counted as
    it goes. Nothing of it is held in memory but its first `HEAD_BYTES` and the
    chunk being written."""

    def __init__(self, path: str) -> None:
        self.path = path
        # Exclusive and private: nobody else reads a half-written archive.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.file = os.fdopen(fd, "wb", buffering=0)
        self._sha512 = hashlib.sha512()
        self._sha256 = hashlib.sha256()
        self._pending: tuple[Future[None], ...] = ()
        self._syncing: Future[None] | None = None
        self.size = 0
        self.head = b""
        self.synced = False

    def write(self, chunk: bytes) -> None:
        """Append `chunk`, hashing it; a large one is done on other threads while
        the caller goes on. :raise OSError: disk full, I/O error (a chunk's error
        may come with the next call, or with `flush`)."""
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.flush()  # chunks go in order, and one at a time is held
        self._syncing = None  # what it flushes no longer covers the file
        if len(chunk) < _HANDED_OVER:
            self._sha512.update(chunk)
            self._hash_and_append(chunk)
        else:
            self._pending = (
                _WORKERS.submit(self._sha512.update, chunk),
                _WORKERS.submit(self._hash_and_append, chunk),
            )
        self.size += len(chunk)

    def _hash_and_append(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        view = memoryview(chunk)
        while view:
            written = self.file.write(view)
            view = view[written:]

    def flush(self) -> None:
        """Wait until every chunk given is hashed and in the file.
        :raise OSError: writing one failed."""
        pending, self._pending = self._pending, ()
        errors = [future.exception() for future in pending]  # each one finished
        for error in errors:
            if error is not None:
                raise error

    @property
    def sha256(self) -> hashlib._Hash:
        """The SHA-256 of what was written so far. :raise OSError:"""
        self.flush()
        return self._sha256

    @property
    def id(self) -> str:
        """The archive id: the SHA-512 of what was written, in lowercase hex.
        :raise OSError:"""
        self.flush()
        return self._sha512.hexdigest()

    def close(self) -> None:
        """Stop writing: every byte is in the file for readers, not yet on the
        disk (`finish` does that, for what is kept). :raise OSError:"""
        self.flush()
        if not self.file.closed:
            self.file.close()

    def start_sync(self) -> None:
        """Start flushing the bytes written so far to disk on another thread, while
        the caller goes on (the checks); `finish` waits for it. :raise OSError:"""
        self.flush()
        if not self.synced and self._syncing is None:
            self._syncing = _WORKERS.submit(_fsync_path, self.path)

    def finish(self) -> None:
        """Flush the bytes to disk and close the file. :raise OSError:"""
        if self.synced:
            return
        self.flush()
        if self._syncing is not None:
            self._syncing.result()
            self.close()
        elif self.file.closed:  # closed unsynced by `close`
            _fsync_path(self.path)
        else:
            os.fsync(self.file.fileno())
            self.file.close()
        self.synced = True

    def uncache(self) -> None:
        """Let the kernel drop the file's pages from its cache: call it once they
        are on disk (`finish`), when they are clean. Advice: a kernel that does not
        take it changes nothing."""
        if not hasattr(os, "posix_fadvise"):
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Close and remove the temp file; safe to call more than once."""
        try:
            self.flush()
        except Exception:  # the bytes are thrown away: how a write failed is moot
            pass
        if not self.file.closed:
            self.file.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def private_dirs(path: str) -> None:
    """Make `path` and its missing parents, each for its owner only (spec stashes.md
    17.11): os.makedirs gives its mode to the last directory alone."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


class BlobStore:
    """The blobs and temp files under one directory."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs")
        self.tmp = os.path.join(root, "tmp")

    def path(self, archive_id: str) -> str:
        """Where the blob of `archive_id` lives (whether or not it exists)."""
        return os.path.join(self.blobs, archive_id[:2], archive_id[2:4], archive_id)

    def temp(self) -> TempBlob:
        """A new temp file to write an archive into. :raise OSError:"""
        private_dirs(self.tmp)
        name = secrets.token_hex(16) + ".part"
        return TempBlob(os.path.join(self.tmp, name))

    def commit(self, temp: TempBlob, cached: bool = True) -> bool:
        """Move a finished temp file into place as its blob; True when the blob is
        new. If it existed, the bytes are the same: the temp file is dropped.
        `cached`: False lets a new blob leave the page cache once on disk.

        :raise OSError: the rename or an fsync failed (the temp file is removed).
        """
        try:
            final = self.path(temp.id)
            directory = os.path.dirname(final)
            private_dirs(directory)
            if os.path.exists(final):
                try:
                    # A fresh mtime restarts GC's grace: a record is about to name
                    # it, and GC keeps a blob it finds fresh once moved aside.
                    os.utime(final)
                except FileNotFoundError:
                    pass  # GC moved it aside meanwhile: these bytes take its place
                else:
                    # The blob in place was fsynced when it was stored: these same
                    # bytes need not reach the disk (0.2 s for 100 MiB measured).
                    temp.discard()
                    return False
            temp.finish()
            if not cached:
                temp.uncache()
            os.chmod(temp.path, 0o400)
            os.rename(temp.path, final)
            _fsync_dir(directory)
            return True
        except OSError:
            temp.discard()
            raise

    def size(self, archive_id: str) -> int | None:
        """The blob's size on disk, or None when it is missing."""
        try:
            return os.stat(self.path(archive_id)).st_size
        except FileNotFoundError:
            return None

    def mtime(self, archive_id: str) -> float | None:
        """When the blob was last written or re-uploaded, or None when missing."""
        try:
            return os.stat(self.path(archive_id)).st_mtime
        except FileNotFoundError:
            return None

    def start_sync(self, temp: TempBlob) -> None:
        """Start flushing `temp` to disk while its checks run, unless its bytes
        are stored already (then they never need to reach the disk).
        :raise OSError:"""
        if not os.path.exists(self.path(temp.id)):
            temp.start_sync()

    def remove_unless(
        self, archive_id: str, keep: Callable[[float], bool]
    ) -> int | None:
        """Delete a blob unless ``keep(its mtime)``, asked once the blob is moved
        out of place: the bytes freed (0 when it was gone), or None when kept (moved
        back). A record written before the move is seen by `keep`; an upload of the
        same bytes after it puts its own copy in place."""
        path = self.path(archive_id)
        private_dirs(self.tmp)
        aside = os.path.join(self.tmp, secrets.token_hex(16) + ".gone")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return 0
        try:
            stat = os.stat(aside)
            if keep(stat.st_mtime):
                os.rename(aside, path)
                return None
            os.unlink(aside)
        except BaseException:
            # Undecided: the bytes go back, as if kept.
            if os.path.exists(aside):
                os.rename(aside, path)
            raise
        return stat.st_size

    def ids(self) -> Iterator[str]:
        """The id of every blob on disk (for GC and fsck)."""
        if not os.path.isdir(self.blobs):
            return
        for first in sorted(os.listdir(self.blobs)):
            outer = os.path.join(self.blobs, first)
            if not os.path.isdir(outer):
                continue
            for second in sorted(os.listdir(outer)):
                inner = os.path.join(outer, second)
                if os.path.isdir(inner):
                    yield from sorted(os.listdir(inner))

    def remove_stale_temps(self, max_age: float) -> int:
        """Remove temp files not written for `max_age` seconds; how many went."""
        if not os.path.isdir(self.tmp):
            return 0
        removed = 0
        deadline = time.time() - max_age
        for name in os.listdir(self.tmp):
            path = os.path.join(self.tmp, name)
            try:
                if os.stat(path).st_mtime <= deadline:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def rehash(self, archive_id: str) -> str | None:
        """The SHA-512 of the blob's bytes as they are now, or None when missing."""
        digest = hashlib.sha512()
        try:
            with open(self.path(archive_id), "rb") as file:
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()


def _fsync_path(path: str) -> None:
    """fsync a file by its path: it reaches the file's pages through any
    descriptor of it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: str) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
