"""The assets of a backup: ``{"kind": "asset", "namespace", "name", "asset"}``, the
asset as the API serves it."""

from __future__ import annotations

from typing import Any, NamedTuple

from assets.store import AssetStore, ListedAsset, PutOutcome
from backup import Emit, count_each, field, line, text, walk
from core import strictjson
from core.errors import BadRequest
from namespaces.backup import namespace
from namespaces.store import NamespaceStore
from redisio.calls import Call, Steps
from sensugo.assets import ASSET_NAME, etag_of


class Item(NamedTuple):
    namespace: str
    name: str
    json: bytes


class AssetBackup:
    """Every asset of every namespace."""

    kind = "asset"

    def __init__(self, store: AssetStore, namespaces: NamespaceStore) -> None:
        self.store = store
        self.namespaces = namespaces

    def count(self) -> Steps[int]:
        return count_each(self.namespaces.names(), self.store.count)

    def dump(self, emit: Emit) -> Steps[None]:
        def each(asset: ListedAsset) -> None:
            fields = {"namespace": asset.namespace, "name": asset.name}
            emit(line(self.kind, fields, asset=asset.json))

        for ns in (yield from self.namespaces.names()):
            yield from walk(self.store.assets(ns, None), each)

    def check(self, record: dict[str, Any]) -> Item:
        ns, name = namespace(record, "namespace"), text(record, "name")
        if not ASSET_NAME.fullmatch(name):
            raise BadRequest(f"asset name {name!r} is not valid")
        asset = field(record, "asset", dict)
        meta = asset.get("metadata")
        if not isinstance(meta, dict) or (meta.get("namespace"), meta.get("name")) != (
            ns,
            name,
        ):
            raise BadRequest("the asset's metadata names another asset")
        return Item(ns, name, strictjson.dumps(asset))

    def label(self, item: Item) -> str:
        return f"asset {item.name!r} of namespace {item.namespace!r}"

    def conflicts(self, item: Item) -> Call:
        return self.store.exists(item.namespace, item.name)

    def write(self, item: Item) -> Call:
        call = self.store.put_asset(
            item.namespace, item.name, item.json, etag_of(item.json), False
        )
        return call._replace(convert=lambda n: PutOutcome(n) != PutOutcome.NO_NAMESPACE)
