"""Paging and filtering of the Sensu Go lists: ``limit``, ``continue``, selectors.

Tokens are Sensu's: base64url without padding of ``<last key>\\0``. They are cursors,
not offsets: a page starts strictly after the last key the previous one returned, so
adding or deleting items does not make the next page skip or repeat any.

Stores describe a list as `Batches`: the round trip that reads the batch at a cursor,
and the first cursor. `take_page` reads batches only until the page is full.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from core import base64url
from core.errors import BadRequest
from redisio.calls import Call, Steps
from sensugo.selectors import Selector, SelectorError, parse_all

CONTINUE_HEADER = "Sensu-Continue"

# strconv.Atoi's syntax; anything else means "no limit", as in Sensu.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Larger limits are all alike ("everything"); keeps batch sizes sane.
MAX_LIMIT = 2**31 - 1


class QueryArgs(Protocol):
    def getlist(self, key: str) -> list[str]: ...

    def get(self, key: str) -> str | None: ...


class ListQuery(NamedTuple):
    limit: int | None  # None: everything
    after: str | None  # the cursor: the last key of the previous page
    labels: Selector
    fields: Selector


def encode_token(key: str) -> str:
    """The ``Sensu-Continue`` token that resumes after `key`."""
    return base64url.encode((key + "\0").encode())


def decode_token(token: str) -> str:
    """The key a continue token resumes after.

    :raise BadRequest: not a token this server made.
    """
    try:
        key = base64url.decode(token).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError too
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
    digits = text.lstrip("+-").lstrip("0")
    if text.startswith("-") and digits:
        raise BadRequest("limit must not be negative")
    # Compared as text: int() refuses more than 4,300 digits (spec stashes.md 17.9).
    if len(digits) > len(str(MAX_LIMIT)):
        return MAX_LIMIT
    return min(int(digits or "0"), MAX_LIMIT) or None


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


class Batch(NamedTuple):
    """Items read in one round trip, and the cursor of the next batch (None: the
    list ends here)."""

    items: list[Any]
    next: Any


class Batches(NamedTuple):
    """A list as a store describes it, a batch per round trip."""

    # The batch at a cursor, as a Call that converts to a `Batch`; None: no more.
    fetch: Callable[[Any], Call | None]
    start: Any


def lex_start(after: str | None) -> str:
    """The ``ZRANGEBYLEX`` start of the items strictly after `after` (None: all)."""
    return "-" if after is None else "(" + after


def take_page(
    batches: Batches, limit: int | None, keep: Callable[[Any], bool] | None = None
) -> Steps[tuple[list[Any], bool]]:
    """The first `limit` items that `keep`, and whether another one follows.

    Filtering comes first, so a page holds `limit` matching items (7.x does this too).
    Batches are read until item ``limit + 1`` is found, or the list ends.
    """
    page: list[Any] = []
    cursor = batches.start
    while (call := batches.fetch(cursor)) is not None:
        batch: Batch = yield call
        for item in batch.items:
            if keep is not None and not keep(item):
                continue
            if limit is not None and len(page) == limit:
                return page, True
            page.append(item)
        if batch.next is None:
            break
        cursor = batch.next
    return page, False


def continue_headers(more: bool, last_key: str | None) -> Mapping[str, str]:
    """``Sensu-Continue`` when more items follow the page, else nothing."""
    if more and last_key is not None:
        return {CONTINUE_HEADER: encode_token(last_key)}
    return {}
