"""The accounts of a backup: users (``{"kind": "user", "name", "password_hash",
"created_at", "generated"}``) and API keys (``{"kind": "apikey", "digest",
"username", "created_by", "created_at"}``). Passwords travel as their scrypt
hashes and keys as their SHA-256 digests, as stored; access and refresh tokens are
left behind (they live minutes, and a restore starts without sessions)."""

from __future__ import annotations

import re
from typing import Any

from accounts.store import AccountStore, ApiKey, UserRecord
from backup import Emit, field, line, text, walk
from core.errors import BadRequest
from redisio.calls import Call, Steps

_DIGEST = re.compile(r"[0-9a-f]{64}")


class UserBackup:
    """Every user with its password hash; restored before the API keys."""

    kind = "user"

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    def count(self) -> Steps[int]:
        count: int = yield self.store.count_users()
        return count

    def dump(self, emit: Emit) -> Steps[None]:
        def each(user: UserRecord) -> None:
            emit(line(self.kind, user._asdict()))

        yield from walk(self.store.user_records(None), each)

    def check(self, record: dict[str, Any]) -> UserRecord:
        return UserRecord(
            text(record, "name"),
            text(record, "password_hash"),
            field(record, "created_at", int),
            field(record, "generated", bool),
        )

    def label(self, item: UserRecord) -> str:
        return f"user {item.name!r}"

    def conflicts(self, item: UserRecord) -> Call:
        call = self.store.password_hash(item.name)
        return call._replace(convert=lambda reply: reply is not None)

    def write(self, item: UserRecord) -> Call:
        call = self.store.put_user(
            item.name, item.password_hash, item.created_at, item.generated
        )
        return call._replace(convert=bool)


class ApiKeyBackup:
    """Every API key, by the digest it is stored under."""

    kind = "apikey"

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    def count(self) -> Steps[int]:
        count: int = yield self.store.count_apikeys()
        return count

    def dump(self, emit: Emit) -> Steps[None]:
        yield from walk(
            self.store.apikeys(None), lambda key: emit(line(self.kind, dict(key)))
        )

    def check(self, record: dict[str, Any]) -> ApiKey:
        digest = text(record, "digest")
        if not _DIGEST.fullmatch(digest):
            raise BadRequest("'digest' is not a SHA-256 hex digest")
        return ApiKey(
            digest=digest,
            username=text(record, "username"),
            created_by=field(record, "created_by", str),
            created_at=field(record, "created_at", int),
        )

    def label(self, item: ApiKey) -> str:
        return f"API key {item['digest'][:12]}... of user {item['username']!r}"

    def conflicts(self, item: ApiKey) -> Call:
        call = self.store.apikey_user(item["digest"])
        return call._replace(convert=lambda reply: reply is not None)

    def write(self, item: ApiKey) -> Call:
        return self.store.put_apikey(item)
