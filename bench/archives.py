"""The archive cases' data and tools: two archives, uploads timed with curl, and the
server's resident memory while it moves them.

The archives are plain tar files of random bytes (1 MiB and 100 MiB), written once
per benchmark. stashd gets them through its upload API; nginx serves the very same
files, hard-linked into its root, so both send the same bytes from the same disk.
Uploads go through curl reading the file from disk (``-T``), so the client holds
no archive in memory either and costs the shared CPU little.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import shutil
import statistics
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass, replace

from bench.load import Request, Run, write_requests

# The archives measured, by the name the cases use: their size in bytes.
SIZES = {"1m": 1 << 20, "100m": 100 << 20}
NAMESPACE = "default"
UPLOAD_PATH = f"/api/core/v2/namespaces/{NAMESPACE}/archives"
# Seconds between two samples of the server's resident memory.
RSS_EVERY = 0.05


class _Random:
    """A file-like source of `size` seeded random bytes, read in pieces (tarfile
    copies from it), so not even the generator holds a whole archive."""

    def __init__(self, size: int, seed: int) -> None:
        self.left = size
        self.rng = random.Random(seed)

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return self.rng.randbytes(size)


@dataclass(frozen=True)
class Archive:
    name: str  # a key of SIZES
    path: str  # the tar file
    filename: str
    id: str  # its SHA-512
    size: int  # of the whole tar file


def make(workdir: str) -> dict[str, Archive]:
    """Write each archive of SIZES into `workdir` (a tar of one member of random
    bytes, about that size) and hard-link it into the nginx root."""
    made = {}
    root = nginx_root(workdir)
    os.makedirs(root, exist_ok=True)
    for n, (name, size) in enumerate(SIZES.items()):
        filename = f"bench-{name}.tar"
        path = os.path.join(workdir, filename)
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            info = tarfile.TarInfo("bin/payload")
            info.size, info.mode, info.mtime = size - 3 * 512, 0o755, 1_700_000_000
            tar.addfile(info, _Random(info.size, seed=n))
        digest = hashlib.sha512()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        os.link(path, os.path.join(root, filename))
        made[name] = Archive(
            name, path, filename, digest.hexdigest(), os.path.getsize(path)
        )
    return made


def nginx_root(workdir: str) -> str:
    return os.path.join(workdir, "nginx-root")


def request_files(workdir: str, archives: dict[str, Archive]) -> dict[str, str]:
    """Download request files: ``archive-<name>`` for stashd's canonical URL,
    ``nginx-<name>`` for the same file under nginx."""
    files = {}
    for name, archive in archives.items():
        stashd = f"/archives/{NAMESPACE}/{archive.id}/{archive.filename}"
        for prefix, url in (("archive", stashd), ("nginx", f"/{archive.filename}")):
            path = os.path.join(workdir, f"{prefix}-{name}.requests")
            files[f"{prefix}-{name}"] = write_requests(path, [Request("GET", url)])
    return files


def store(port: int, header: str, archives: dict[str, Archive]) -> None:
    """Upload each archive stashd does not hold yet (the download cases need them).

    :raise RuntimeError: an upload was refused.
    """
    for archive in archives.values():
        name, _, value = header.partition(": ")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request(
                "HEAD", f"/archives/{NAMESPACE}/{archive.id}", headers={name: value}
            )
            held = conn.getresponse()
            held.read()
            if held.status == 200:
                continue
        finally:
            conn.close()
        status, _ = _curl_upload(port, header, archive, timeout=120)
        if status not in (200, 201):
            raise RuntimeError(f"upload of {archive.filename} answered {status}")


def _curl_upload(
    port: int, header: str, archive: Archive, timeout: float
) -> tuple[int, float]:
    """POST the archive's file as the raw body, streamed from disk: its status,
    and the seconds it took."""
    url = f"http://127.0.0.1:{port}{UPLOAD_PATH}?filename={archive.filename}"
    argv = [
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
        "-X", "POST", "-T", archive.path, "-H", header,
        "-H", "Content-Type: application/x-tar",
        # curl would wait up to a second for "100 Continue" before the body.
        "-H", "Expect:",
        "--max-time", str(timeout), url,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
    if done.returncode != 0:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()}")
    status, seconds = done.stdout.split()
    return int(status), float(seconds)


def _timed(times: list[float], non_2xx: int) -> Run:
    """A run of one request at a time that took `times` seconds each."""
    ordered = sorted(times)
    return Run(
        requests=len(times),
        seconds=sum(times),
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        errors=0,
        non_2xx=non_2xx,
    )


def upload(port: int, header: str, archive: Archive, seconds: int) -> Run:
    """Upload new bytes again and again, one at a time, for about `seconds`.

    Each upload is `archive` with 16 random bytes written over the start of its
    member's data, so each is a first upload, the whole path: streamed to a temp
    file, hashed, checked, fsynced and renamed into place, then recorded. The
    run's time is the uploads' own, as curl measures them.
    """
    fresh = replace(archive, path=archive.path + ".upload")
    shutil.copyfile(archive.path, fresh.path)
    times: list[float] = []
    non_2xx = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline or not times:
            with open(fresh.path, "r+b") as file:
                file.seek(tarfile.BLOCKSIZE)  # past the member's header
                file.write(os.urandom(16))
            status, took = _curl_upload(port, header, fresh, timeout=seconds + 60)
            times.append(took)
            non_2xx += status not in (200, 201)
    finally:
        os.unlink(fresh.path)
    return _timed(times, non_2xx)


def hash_floor(archive: Archive, seconds: int) -> Run:
    """SHA-512 and SHA-256 of the archive's file, read a megabyte at a time, one
    digest after the other, again and again for about `seconds`: the work no
    upload can skip, measured on the machine as it is during the run."""
    times: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or not times:
        started = time.perf_counter()
        sha512, sha256 = hashlib.sha512(), hashlib.sha256()
        with open(archive.path, "rb") as file:
            while chunk := file.read(1 << 20):
                sha512.update(chunk)
                sha256.update(chunk)
        times.append(time.perf_counter() - started)
    return _timed(times, 0)


def rss_bytes(pids: list[int]) -> int:
    """The resident memory of `pids` together (VmRSS); gone ones count 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class RSSWatch:
    """Samples the resident memory of a process tree in a thread until stopped: the
    first sample, and the largest."""

    def __init__(self, tree: list[int]) -> None:
        self.tree = tree
        self.first = rss_bytes(tree)
        self.peak = self.first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(RSS_EVERY):
            self.peak = max(self.peak, rss_bytes(self.tree))

    def stop(self) -> int:
        """Stop sampling; how far the memory grew above the first sample, in bytes."""
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.tree))
        return self.peak - self.first
