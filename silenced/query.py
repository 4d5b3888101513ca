"""Query strings of the silenced routes: 1.x list paging and filters, match queries.

The 1.x list rules are those of ``GET /stashes`` (spec stashes.md section 8): the
last of a repeated parameter wins, only plain ASCII digits make an integer, and
``filter.<dotted key>`` compares a scalar's text form. The stash API keeps its own
copy; no API package imports another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" error handler
from werkzeug.datastructures import MultiDict

_DIGITS = re.compile(r"[0-9]+")
FILTER = "filter."


class ListQuery(NamedTuple):
    limit: int | None  # None: no paging at all, no X-Pagination
    offset: int
    filters: list[tuple[list[str], str]]  # (key path, wanted text), all must match


def query_args(query_string: str) -> MultiDict[str, str]:
    """QUERY_STRING (latin-1 text, PEP 3333) parsed exactly as Flask's request.args."""
    text = query_string.encode("latin-1").decode(errors="werkzeug.url_quote")
    return MultiDict(
        parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    )


def last(args: MultiDict[str, str], name: str) -> str | None:
    """The last value of a repeated parameter, as Sensu reads it; None when absent."""
    values = args.getlist(name)
    return values[-1] if values else None


def _integer(text: str | None) -> int | None:
    return int(text) if text is not None and _DIGITS.fullmatch(text) else None


def parse_list_query(args: MultiDict[str, str]) -> ListQuery:
    """The paging and filters a 1.x list asks for; bad values mean "not given"."""
    limit = _integer(last(args, "limit"))
    offset = (_integer(last(args, "offset")) or 0) if limit is not None else 0
    filters = []
    for name in args.keys():
        if not name.startswith(FILTER) or name == FILTER:
            continue
        value = last(args, name)
        if value:  # filter.x= is ignored
            filters.append((name[len(FILTER) :].split("."), value))
    return ListQuery(limit, offset, filters)


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
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
