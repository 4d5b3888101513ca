"""The stashes of a backup: ``{"kind": "stash", "path", "ttl_ms", "content"}``."""

from __future__ import annotations

from typing import Any, NamedTuple

from backup import Emit, line, text, ttl_ms
from core import strictjson
from core.errors import BadRequest
from redisio.calls import Call, Steps
from stashes.store import RawStash, StashStore


class Item(NamedTuple):
    path: str
    content: bytes  # compact JSON
    ttl_ms: int | None


class StashBackup:
    """Every stash with its content and remaining lifetime."""

    kind = "stash"

    def __init__(self, store: StashStore) -> None:
        self.store = store

    def count(self) -> Steps[int]:
        return (yield from self.store.count())

    def dump(self, emit: Emit) -> Steps[None]:
        def each(batch: list[RawStash]) -> list[None]:
            for stash in batch:
                # The lifetime as the scan read it (whole seconds, rounded up).
                left = None if stash.expire < 0 else stash.expire * 1000
                fields = {"path": stash.path, "ttl_ms": left}
                emit(line(self.kind, fields, content=stash.content))
            return []

        yield from self.store.scan(each)

    def check(self, record: dict[str, Any]) -> Item:
        content = record.get("content")
        if not isinstance(content, dict):
            raise BadRequest("'content' is missing or not a JSON object")
        return Item(text(record, "path"), strictjson.dumps(content), ttl_ms(record))

    def label(self, item: Item) -> str:
        return f"stash {item.path!r}"

    def conflicts(self, item: Item) -> Call:
        return self.store.exists(item.path)

    def write(self, item: Item) -> Call:
        # The store keeps whole seconds: round up, so nothing ends early.
        ttl = None if item.ttl_ms is None else -(-item.ttl_ms // 1000)
        return self.store.put(item.path, item.content, ttl)._replace(convert=bool)
