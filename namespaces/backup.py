"""The namespaces of a backup: ``{"kind": "namespace", "name"}``."""

from __future__ import annotations

from typing import Any

from backup import Emit, line, text, walk
from core.errors import BadRequest
from namespaces.schemas import namespace_problem
from namespaces.store import NamespaceStore
from redisio.calls import Call, Steps


def namespace(record: dict[str, Any], name: str) -> str:
    """The namespace name `record[name]`. :raise BadRequest: not a valid one."""
    value = text(record, name)
    problem = namespace_problem(value)
    if problem is not None:
        raise BadRequest(f"namespace name {problem}")
    return value


class NamespaceBackup:
    """Every namespace; restored first, since assets and silences live in one."""

    kind = "namespace"

    def __init__(self, store: NamespaceStore) -> None:
        self.store = store

    def count(self) -> Steps[int]:
        count: int = yield self.store.count()
        return count

    def dump(self, emit: Emit) -> Steps[None]:
        yield from walk(
            self.store.batches(), lambda name: emit(line(self.kind, {"name": name}))
        )

    def check(self, record: dict[str, Any]) -> str:
        return namespace(record, "name")

    def label(self, item: str) -> str:
        return f"namespace {item!r}"

    def conflicts(self, item: str) -> None:
        # A namespace holds nothing of its own: finding it is no conflict.
        return None

    def write(self, item: str) -> list[Call]:
        # A namespace holds nothing of its own: replacing one is keeping it. On
        # Redis Cluster the marker and the list are in two slots: the marker comes
        # first, so a crash between them leaves a namespace unlisted, which the
        # next import (or create) lists, never a listed one without its marker.
        calls = self.store.create_calls(item)
        return [call._replace(convert=lambda _: True) for call in calls]
