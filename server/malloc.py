"""glibc's malloc, told to give big blocks back to the system as soon as they are freed.

Archives move through the workers a megabyte at a time. glibc serves blocks of
128 KiB and more with mmap and unmaps them when freed, but it raises that threshold
to the size of the largest such block freed so far: from the first upload on,
megabyte blocks come from the heaps of the threads' arenas, and what those keep after
a request stays resident, more with each thread that has moved an archive (tens of
MiB in a gunicorn worker's 64). A fixed threshold keeps the first behaviour, so a
worker's memory stays flat however many archives pass (spec archives.md 16).
"""

from __future__ import annotations

import ctypes

# mallopt's parameter number for the threshold (glibc's malloc.h), and glibc's
# default threshold, which setting it keeps from moving.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def return_big_blocks() -> None:
    """Fix this process's mmap threshold (forked children keep it); nothing where
    the C library has no mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
