"""The silencing entries of a backup: ``{"kind": "silenced", "namespace", "name",
"ttl_ms", "fields"}``, the entry's stored fields as they are."""

from __future__ import annotations

from typing import Any, NamedTuple

from backup import Emit, field, line, text, ttl_ms
from core.errors import BadRequest
from namespaces.backup import namespace
from redisio.calls import Call, Steps
from silenced.store import SilencedStore, Stored, Write

# Fields the write script sets from its own arguments, not from the field list.
_FROM_ARGS = ("created", "expire", "begin", "deadline")


class Item(NamedTuple):
    namespace: str
    name: str
    write: Write


def _integer(fields: dict[str, str], name: str) -> int | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"field {name!r} is not an integer") from None


class SilencedBackup:
    """Every silencing entry of every namespace, with its remaining lifetime."""

    kind = "silenced"

    def __init__(self, store: SilencedStore) -> None:
        self.store = store

    def count(self) -> Steps[int]:
        total = 0
        for ns in (yield self.store.namespaces()):
            total += yield self.store.count(ns)
        return total

    def dump(self, emit: Emit) -> Steps[None]:
        def each(batch: list[Stored]) -> list[Stored]:
            for entry in batch:
                fields = {
                    "namespace": entry.namespace,
                    "name": entry.name,
                    "ttl_ms": entry.pttl if entry.pttl > 0 else None,
                    "fields": entry.fields,
                }
                emit(line(self.kind, fields))
            return []

        for ns in (yield self.store.namespaces()):
            yield from self.store.scan(ns, each)

    def check(self, record: dict[str, Any]) -> Item:
        fields = field(record, "fields", dict)
        if not all(isinstance(v, str) for v in fields.values()):
            raise BadRequest("'fields' must map names to strings")
        kept = {k: v for k, v in fields.items() if k not in _FROM_ARGS}
        expire = _integer(fields, "expire") or 0
        begin = _integer(fields, "begin")
        created = _integer(fields, "created")
        left = ttl_ms(record)
        if left is None:
            # No deadline: an entry has none only when its expire is 0 or less.
            write = Write(kept, min(expire, 0), begin, "v1", 0, created)
        else:
            write = Write(kept, expire, begin, "ttl", left, created)
        return Item(namespace(record, "namespace"), text(record, "name"), write)

    def label(self, item: Item) -> str:
        return f"silenced entry {item.name!r} of namespace {item.namespace!r}"

    def conflicts(self, item: Item) -> Call:
        return self.store.exists(item.namespace, item.name)

    def write(self, item: Item) -> Call:
        call = self.store.put(item.namespace, item.name, item.write, False, False)
        return call._replace(convert=bool)
