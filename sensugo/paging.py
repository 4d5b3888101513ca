"""Paging and filtering of the Sensu Go lists: ``limit``, ``continue``, selectors.

Tokens are Sensu's: base64url without padding of ``<last key>\\0``. They are cursors,
not offsets: a page starts strictly after the last key the previous one returned, so
adding or deleting items does not make the next page skip or repeat any.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

from core.errors import BadRequest
from sensugo.selectors import Selector, SelectorError, parse_all

CONTINUE_HEADER = "Sensu-Continue"

# strconv.Atoi's syntax; anything else means "no limit", as in Sensu.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Larger limits are all alike ("everything"); keeps batch sizes sane.
MAX_LIMIT = 2**31 - 1

T = TypeVar("T")


class QueryArgs(Protocol):
    def getlist(self, key: str) -> list[str]: ...

    def get(self, key: str, default: Any = None) -> Any: ...


class ListQuery(NamedTuple):
    limit: int | None  # None: everything
    after: str | None  # the cursor: the last key of the previous page
    labels: Selector
    fields: Selector


def encode_token(key: str) -> str:
    """The ``Sensu-Continue`` token that resumes after `key`."""
    raw = (key + "\0").encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> str:
    """The key a continue token resumes after.

    :raise BadRequest: not a token this server made.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = raw.decode()
    except (binascii.Error, ValueError):
        raise BadRequest("invalid continue token") from None
    if not key.endswith("\0") or len(key) < 2:
        raise BadRequest("invalid continue token")
    return key[:-1]


def parse_limit(text: str | None) -> int | None:
    """``limit`` as Sensu reads it: absent, 0 or not a number mean no limit.

    :raise BadRequest: a negative limit (Sensu misbehaves on those).
    """
    if text is None or not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    if value < 0:
        raise BadRequest("limit must not be negative")
    return min(value, MAX_LIMIT) or None


def parse_list_query(args: QueryArgs) -> ListQuery:
    """The paging and selectors of a list request.

    :raise BadRequest: a negative limit, a bad token, a selector that does not parse.
    """
    limit = parse_limit(args.get("limit"))
    token = args.get("continue")
    after = decode_token(token) if token else None
    selectors = []
    for name in ("labelSelector", "fieldSelector"):
        try:
            selectors.append(parse_all(args.getlist(name)))
        except SelectorError as exc:
            raise BadRequest(f"failed to parse {name}: {exc}") from None
    return ListQuery(limit, after, selectors[0], selectors[1])


def batch_size(query: ListQuery) -> int:
    """How many items to read per round trip for `query`."""
    if query.limit is not None and not (query.labels or query.fields):
        return min(query.limit + 1, 1000)
    return 1000


def take_page(
    items: Iterable[T], limit: int | None, keep: Callable[[T], bool] | None = None
) -> tuple[list[T], bool]:
    """The first `limit` items that `keep`, and whether another one follows.

    Filtering comes first, so a page holds `limit` matching items (7.x does this too).
    """
    page: list[T] = []
    for item in items:
        if keep is not None and not keep(item):
            continue
        if limit is not None and len(page) == limit:
            return page, True
        page.append(item)
    return page, False


def continue_headers(more: bool, last_key: str | None) -> Mapping[str, str]:
    """``Sensu-Continue`` when more items follow the page, else nothing."""
    if more and last_key is not None:
        return {CONTINUE_HEADER: encode_token(last_key)}
    return {}
