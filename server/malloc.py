"""A worker's memory: glibc's malloc, told to keep two arenas per process instead of
one per thread, and the objects of start-up kept out of Python's collections.

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
import gc

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


def freeze_startup_objects() -> None:
    """Move every object alive now (the app, its modules, schemas and the OpenAPI
    document: most of a worker's heap) out of the cyclic collector's reach.

    A full collection walks every tracked object, and with them in the heap it
    held a worker's event loop for 80 to 110 ms now and then: the p99 of the
    stash and match routes went from 8 ms to 80 ms and more (docs/benchmarks.md).
    They live as long as the process, so the collector has nothing to find there.
    Call it once the app is built.
    """
    gc.collect()
    gc.freeze()
