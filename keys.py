"""Every Redis key stashd writes, spelled here and nowhere else.

Layout (``P`` is ``STASHD_KEY_PREFIX``)::

    P:{stashes}:s:<path>     string   a stash's content (compact JSON), with its TTL
    P:{stashes}:index        zset     every stash path, score 0: code-point order
    P:{stashes}:expiry       zset     path -> deadline (Unix ms) of stashes with a TTL

A stash write changes its content key and both sorted sets in one script, and Redis
Cluster runs a script only when all its keys share a slot: the ``{stashes}`` hash tag
puts them in one. The prefix cannot contain ``:``, so deployments never share a key.
Changing any pattern here strands stored data: it needs a CHANGELOG entry.
"""

from __future__ import annotations


class Keys:
    """The keyspace of one deployment, under its key prefix."""

    def __init__(self, prefix: str) -> None:
        stashes = f"{prefix}:{{stashes}}:"
        self.stash_index: str = stashes + "index"
        self.stash_expiry: str = stashes + "expiry"
        # Content keys are this plus the path; scripts that walk the index add it.
        self.stash_prefix: str = stashes + "s:"

    def stash(self, path: str) -> str:
        """The key holding the content of the stash at `path`."""
        return self.stash_prefix + path
