"""glibc's malloc, told to keep two arenas per process instead of one per thread.

Archives move through the workers a megabyte at a time, on whichever thread serves
the request. glibc gives each thread an arena of its own (up to eight per core),
and raises its mmap threshold to the largest block freed so far, so after a few
uploads every arena keeps megabytes of freed buffers resident: a gunicorn worker's
64 threads grew a server by 25 to 80 MiB over a few hundred uploads. Two arenas
bound what is kept, at no cost in speed; a fixed mmap threshold, which would give
every buffer back, made uploads three times slower (a page fault per 4 KiB of each
new buffer; docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes

# mallopt's parameter number for the arena limit (glibc's malloc.h).
M_ARENA_MAX = -8
ARENAS = 2


def limit_arenas() -> None:
    """Limit this process's malloc arenas (forked children keep the limit); call it
    before threads start. Nothing where the C library has no mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, ARENAS)
