"""The Redis calls of archives' background upkeep: the locks of garbage collection
and of mirror fetches, and what GC remembers of blobs no record names. Their Lua is
in `archives.gc_scripts`; `ArchiveStore` takes them as its own.
"""

from __future__ import annotations

from archives import gc_scripts
from redisio.calls import Call
from redisio.keys import Keys


class UpkeepCalls:
    """Calls of the background work, describing round trips over `keys`."""

    keys: Keys

    def gc_lock(self, token: str, seconds: int) -> Call:
        """Take the GC lock for `seconds` unless another process holds it."""
        key = self.keys.archives_gc_lock
        return Call(("SET", key, token, "NX", "EX", seconds), convert=bool)

    def gc_unlock(self, token: str) -> Call:
        """Give the GC lock back, if this process still holds it."""
        return gc_scripts.UNLOCK([self.keys.archives_gc_lock], [token])

    def mirror_lock(self, archive_id: str, token: str, seconds: int) -> Call:
        """Take the lock of fetching `archive_id` from upstream for `seconds`,
        unless another process holds it (spec archives.md 12.2)."""
        key = self.keys.mirror_lock(archive_id)
        return Call(("SET", key, token, "NX", "EX", seconds), convert=bool)

    def mirror_renew(self, archive_id: str, token: str, seconds: int) -> Call:
        """Keep the fetch lock of `archive_id` `seconds` longer, if still held by
        `token`: True when it was."""
        key = self.keys.mirror_lock(archive_id)
        return gc_scripts.RENEW([key], [token, seconds])._replace(convert=bool)

    def mirror_unlock(self, archive_id: str, token: str) -> Call:
        """Give the fetch lock of `archive_id` back, if still held by `token`."""
        return gc_scripts.UNLOCK([self.keys.mirror_lock(archive_id)], [token])

    def blob_unheld_since(self, archive_id: str, now: int) -> Call:
        """When GC first saw no record of the blob (now, if this is the first)."""
        return gc_scripts.UNHELD([self.keys.blob(archive_id)], [now])

    def forget_blob(self, archive_id: str) -> Call:
        """A blob is held again, or gone: nothing to remember of it."""
        return Call(("DEL", self.keys.blob(archive_id)))

    def drop_blob(self, archive_id: str) -> Call:
        """A blob is deleted: what GC remembers of it, its scan verdict and its
        place in the scan queue go, in one step."""
        k = self.keys
        keys = [k.blob(archive_id), k.scan(archive_id), k.scan_queue]
        return gc_scripts.DROP_BLOB(keys, [archive_id])
