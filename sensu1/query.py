"""The query rules of Sensu 1.x lists (stashes, silenced): limit, offset, filter.*.

They follow Sensu 1.x: a repeated parameter's last value wins, and only plain ASCII
digits make an integer (``int()`` also takes ``-1``, ``+2``, `` 2``, fullwidth digits).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" error handler
from werkzeug.datastructures import MultiDict

_DIGITS = re.compile(r"[0-9]+")
FILTER = "filter."
# Integers longer than this are all alike: past the end of any list. int() refuses
# more than 4,300 digits, and nobody pages with a 65-digit offset.
MAX_DIGITS = 64
HUGE = 10**MAX_DIGITS


class MultiMapping(Protocol):
    def getlist(self, key: str) -> list[str]: ...

    def keys(self) -> Any: ...


class ListQuery(NamedTuple):
    limit: int | None  # None: no paging at all, no X-Pagination
    offset: int
    filters: list[tuple[list[str], str]]  # (key path, wanted text), all must match


def query_args(query_string: str) -> MultiDict[str, str]:
    """QUERY_STRING (latin-1 text, PEP 3333) parsed exactly as Flask's request.args.

    Form rules: ``+`` and ``%20`` are spaces, ``%XX`` is UTF-8, and bytes that are
    not UTF-8 stay percent-encoded (Werkzeug's error handler, registered on import).
    """
    text = query_string.encode("latin-1").decode(errors="werkzeug.url_quote")
    return MultiDict(
        parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    )


def _last(args: MultiMapping, name: str) -> str | None:
    values = args.getlist(name)
    return values[-1] if values else None


def _integer(text: str | None) -> int | None:
    """Plain ASCII digits as their value (`HUGE` past MAX_DIGITS); else None."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    digits = text.lstrip("0")
    return HUGE if len(digits) > MAX_DIGITS else int(digits or "0")


def parse_list_query(args: MultiMapping) -> ListQuery:
    """The paging and filters a list request asks for; bad values mean "not given"."""
    limit = _integer(_last(args, "limit"))
    offset = (_integer(_last(args, "offset")) or 0) if limit is not None else 0
    filters = []
    for name in args.keys():
        if not name.startswith(FILTER) or name == FILTER:
            continue
        value = _last(args, name)
        if value:  # filter.x= is ignored
            filters.append((name[len(FILTER) :].split("."), value))
    return ListQuery(limit, offset, filters)


def _text(value: Any) -> str | None:
    """A scalar's text form as filters compare it; None for null, objects and arrays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)  # plain decimal; floats in shortest round-trip form
    return None


def matches(item: Mapping[str, Any], filters: list[tuple[list[str], str]]) -> bool:
    """True when each filter's key path leads to a scalar whose text is its value."""
    for keypath, wanted in filters:
        value: Any = item
        for key in keypath:
            if not isinstance(value, Mapping) or key not in value:
                return False
            value = value[key]
        if _text(value) != wanted:
            return False
    return True
