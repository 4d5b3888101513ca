"""What each stash request does, whichever front end serves it.

Flask views (`routes`), the WSGI fast path (`fast`) and the RSGI server (`rsgi`) all
call these functions with plain request data, so every rule lives once. They raise
the errors of `errors` on failure and know nothing of WSGI, RSGI or Flask.

Each one is a generator of `Steps`: it yields every Redis round trip it needs as a
`Call` (made by the store), is sent back the result, and returns the `Reply`. The
front end drives it with its own client, blocking (`run`) or on an event loop, so
one function serves both. A single-stash request is one step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from core import strictjson
from core.errors import BadRequest, Body, NotFound
from core.replies import PIECE, Reply, size
from redisio.calls import Steps
from sensu1.query import ListQuery, matches
from stashes.schemas import stash_schema
from stashes.store import RawStash, StashStore

log = logging.getLogger(__name__)


def get_stash(store: StashStore, path: str, head: bool) -> Steps[Reply]:
    """The stored content of `path`. HEAD costs one STRLEN and sends no body.

    :raise NotFound: no such stash, or it expired.
    """
    if not path:
        raise NotFound()
    if head:
        size = yield store.size(path)
        if not size:
            raise NotFound()
        # A HEAD reply brings the Content-Length of the body it leaves out.
        return Reply(200, b"", (("Content-Length", str(size)),))
    content = yield store.get(path)
    if content is None:
        raise NotFound()
    return Reply(200, content)


def write_stash(store: StashStore, path: str, body: bytes) -> Steps[Reply]:
    """Store the body object as the content of `path`; like Sensu, this drops any TTL.

    :raise BadRequest: empty path, or a body that is not a JSON object.
    """
    if not path:
        raise BadRequest("stash path must not be empty")
    content = strictjson.parse_object(body)
    yield store.put(path, strictjson.dumps(content), None)
    return Reply(201, strictjson.dumps({"path": path}))


def create_stash(store: StashStore, body: bytes) -> Steps[Reply]:
    """Create or replace the stash a ``{path, content, expire}`` document describes.

    :raise BadRequest: the document breaks a rule; nothing is changed then.
    """
    stash = stash_schema.load(strictjson.parse_object(body))
    path = stash["path"]
    yield store.put(path, strictjson.dumps(stash["content"]), stash["expire"])
    return Reply(201, strictjson.dumps({"path": path}))


def delete_stash(store: StashStore, path: str) -> Steps[Reply]:
    """Delete one stash; of two racing deletes, exactly one wins.

    :raise NotFound: there was none.
    """
    if not path:
        raise NotFound()
    if not (yield store.delete(path)):
        raise NotFound()
    return Reply(204)


def _readable(items: Iterable[RawStash]) -> Iterator[tuple[RawStash, dict[str, Any]]]:
    """Items with their content parsed; a stored value that is not UTF-8 JSON of an
    object (written past stashd) is skipped, so it cannot break the list."""
    for item in items:
        try:
            content = json.loads(item.content.decode())
        except ValueError:  # UnicodeDecodeError too
            content = None
        if not isinstance(content, dict):
            log.warning("skipping unreadable stored value of stash %r", item.path)
            continue
        yield item, content


def _entry(item: RawStash) -> bytes:
    # The stored JSON goes out as it is: it was checked, and encoding it again
    # would cost more than the rest of the list.
    return b'{"path":%s,"content":%s,"expire":%d}' % (
        strictjson.dumps(item.path),
        item.content,
        item.expire,
    )


def _entries(batch: list[RawStash]) -> list[bytes]:
    return [_entry(item) for item, _ in _readable(batch)]


def _array(entries: list[bytes]) -> Body:
    """`entries` as one JSON array: joined when small, else in parts that are never
    joined whole, since a list can hold a gigabyte (spec 17.10)."""
    if not entries:
        return b"[]"
    parts = [b","] * (2 * len(entries) + 1)
    parts[0], parts[-1] = b"[", b"]"
    parts[1::2] = entries
    return b"".join(parts) if size(entries) <= PIECE else parts


def list_stashes(store: StashStore, query: ListQuery) -> Steps[Reply]:
    """Live stashes sorted by path: ``filter.*`` first, then ``limit``/``offset``.

    A page without filters costs in proportion to its size; anything else reads all.
    Each batch is parsed as it comes, between round trips, so a list of big stashes
    never holds up an event loop for long.
    """
    if query.limit is not None and not query.filters:
        total, entries = yield from store.page(query.offset, query.limit, _entries)
    else:

        def chosen(batch: list[RawStash]) -> list[bytes]:
            return [
                _entry(item)
                for item, content in _readable(batch)
                if matches(
                    {"path": item.path, "content": content, "expire": item.expire},
                    query.filters,
                )
            ]

        # Each batch encoded as it comes: encoding a gigabyte at the end would hold
        # up the event loop.
        entries = yield from store.scan(chosen)
        if query.limit is not None:
            total = len(entries)
            entries = entries[query.offset : query.offset + query.limit]
    body = _array(entries)
    if query.limit is None:
        return Reply(200, body)
    paging = {"limit": query.limit, "offset": query.offset, "total": total}
    return Reply(
        200, body, (("X-Pagination", json.dumps(paging, separators=(",", ":"))),)
    )
