"""What each stash request does, whichever front end serves it.

Flask views (`routes`) and the fast path (`fast`) both call these functions with
plain request data, so every rule lives once. They return a `Reply` and raise the
errors of `errors` on failure; they know nothing of WSGI or Flask.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import strictjson
from errors import BadRequest, NotFound
from stashes.query import ListQuery, matches
from stashes.schemas import stash_schema
from stashes.store import RawStash, StashStore

log = logging.getLogger(__name__)


class Reply(NamedTuple):
    """A successful answer: JSON body bytes, and headers beyond the usual ones."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def _object(body: bytes) -> dict[str, Any]:
    value = strictjson.parse(body)
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object")
    return value


def get_stash(store: StashStore, path: str, head: bool) -> Reply:
    """The stored content of `path`. HEAD costs one STRLEN and sends no body.

    :raise NotFound: no such stash, or it expired.
    """
    if head:
        size = store.size(path) if path else 0
        if not size:
            raise NotFound()
        return Reply(200, b"", (("Content-Length", str(size)),))
    content = store.get(path) if path else None
    if content is None:
        raise NotFound()
    return Reply(200, content)


def write_stash(store: StashStore, path: str, body: bytes) -> Reply:
    """Store the body object as the content of `path`; like Sensu, this drops any TTL.

    :raise BadRequest: empty path, or a body that is not a JSON object.
    """
    if not path:
        raise BadRequest("stash path must not be empty")
    content = _object(body)
    store.put(path, strictjson.dumps(content), None)
    return Reply(201, strictjson.dumps({"path": path}))


def create_stash(store: StashStore, body: bytes) -> Reply:
    """Create or replace the stash a ``{path, content, expire}`` document describes.

    :raise BadRequest: the document breaks a rule; nothing is changed then.
    """
    stash = stash_schema.load(_object(body))
    store.put(stash["path"], strictjson.dumps(stash["content"]), stash["expire"])
    return Reply(201, strictjson.dumps({"path": stash["path"]}))


def delete_stash(store: StashStore, path: str) -> Reply:
    """Delete one stash; of two racing deletes, exactly one wins.

    :raise NotFound: there was none.
    """
    if not (path and store.delete(path)):
        raise NotFound()
    return Reply(204)


def _readable(items: Iterable[RawStash]) -> Iterator[dict[str, Any]]:
    """Items as list entries; a stored value that is not a JSON object is skipped."""
    for item in items:
        try:
            content = json.loads(item.content)
        except ValueError:
            content = None
        if not isinstance(content, dict):
            log.warning("skipping unreadable stored value of stash %r", item.path)
            continue
        yield {"path": item.path, "content": content, "expire": item.expire}


def list_stashes(store: StashStore, query: ListQuery) -> Reply:
    """Live stashes sorted by path: ``filter.*`` first, then ``limit``/``offset``.

    A page without filters costs in proportion to its size; anything else reads all.
    """
    if query.limit is not None and not query.filters:
        total, page = store.page(query.offset, query.limit)
        items = list(_readable(page))
    else:
        items = [i for i in _readable(store.scan()) if matches(i, query.filters)]
        total = len(items)
        if query.limit is not None:
            items = items[query.offset : query.offset + query.limit]
    if query.limit is None:
        return Reply(200, strictjson.dumps(items))
    paging = {"limit": query.limit, "offset": query.offset, "total": total}
    header = ("X-Pagination", json.dumps(paging, separators=(",", ":")))
    return Reply(200, strictjson.dumps(items), (header,))
