"""The processes the benchmark starts, and the CPU time they spend.

Each is started in a session of its own and known by PID; its descendants (granian's
workers, gunicorn's) are found by walking ``/proc``. Stopping sends SIGTERM to the
process, then SIGKILL to whatever of its tree is left after a timeout, so nothing the
benchmark starts outlives it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ")".
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, children first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of `pids` (all their threads); gone ones count 0."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def _identity(pid: int) -> tuple[int, str] | None:
    """A PID with its start time: tells a process from a later one with its PID."""
    fields = _stat(pid)
    return None if fields is None else (pid, fields[19])


class Process:
    """One command the benchmark runs in the background, its output in `log`."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: str,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.env = env
        self.cwd = cwd
        self.popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} is not started"
        return self.popen.pid

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                # A Ctrl-C at the terminal reaches the benchmark only, which then
                # stops its processes in order.
                start_new_session=True,
            )

    def tree(self) -> list[int]:
        """This process and all its descendants, as they are now."""
        return [self.pid, *descendants(self.pid)]

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll `ready` until it is true.

        :raise RuntimeError: the process exited, or `timeout` passed; with its output.
        """
        deadline = time.monotonic() + timeout
        while not ready():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} not ready in {timeout} s:\n{self.output()}"
                )
            time.sleep(0.1)

    def output(self, last: int = 3000) -> str:
        """The end of the process's output."""
        with open(self.log, errors="replace") as log:
            return log.read()[-last:]

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL what is left of the tree."""
        if self.popen is None:
            return
        tree = [i for i in map(_identity, self.tree()) if i is not None]
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Children a server failed to stop: only those still the same process.
        for pid, started in tree:
            if _identity(pid) == (pid, started):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it exited just now
        if self.popen.poll() is None:
            self.popen.wait(5)
        self.popen = None
