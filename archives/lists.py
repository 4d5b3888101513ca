"""Archive record lists (spec archives.md 8.1, 8.2): one namespace or all, by
any sort, paged by a continue token that fits only its own sort."""

from __future__ import annotations

from typing import NamedTuple

from flask import request

from archives.list_calls import ListedRecord, sort_member
from archives.schemas import ARCHIVE_ID, record_json, record_state
from archives.web import (
    base_url,
    bp,
    namespaces,
    need_namespace,
    scanning_on,
    store,
    truthy,
)
from core.errors import BadRequest
from core.http import JSONResponse, json_response
from redisio.clients import get_client
from sensugo.paging import (
    Batches,
    ListQuery,
    continue_headers,
    parse_list_query,
    take_page,
)
from sensugo.selectors import matches

FIELDS = [
    "archive.sha512",
    "archive.namespace",
    "archive.filename",
    "archive.type",
    "archive.state",
    "archive.origin",
    "archive.labels.<key>",
]
OPERATORS = ["==", "!=", "in", "notin", "matches"]
SORTS = ["sha512", "created_at", "size", "filename"]


def _fields(item: ListedRecord) -> dict[str, str]:
    stored = item.view.stored
    found = {
        "archive.sha512": item.id,
        "archive.namespace": item.namespace,
        "archive.filename": stored["filename"],
        "archive.type": stored["type"],
        "archive.state": record_state(item.view),
        "archive.origin": stored["origin"]["kind"],
    }
    for key, value in stored["labels"].items():
        found["archive.labels." + key] = value
    return found


class Sort(NamedTuple):
    """A list's order: the sort key, descending or not."""

    by: str
    desc: bool

    def key(self, member: str) -> str:
        """The paging key of the item with `member`: plain ids in Sensu's default
        order, else the sort named first, so a token fits only its own sort."""
        if self.by == "sha512" and not self.desc:
            return member
        return f"~{self.by}:{'desc' if self.desc else 'asc'}:{member}"

    def member(self, key: str | None) -> str | None:
        """The member a paging key resumes after. :raise BadRequest: another
        sort's key."""
        if key is None:
            return None
        if self.by == "sha512" and not self.desc:
            if key.startswith("~"):
                raise BadRequest("continue token does not match the sort")
            return key
        prefix = self.key("")
        if not key.startswith(prefix):
            raise BadRequest("continue token does not match the sort")
        return key[len(prefix) :]


def _sort() -> Sort:
    """``sort_by`` and ``sort_order`` (8.1). :raise BadRequest: unknown ones."""
    by = request.args.get("sort_by") or "sha512"
    if by not in SORTS:
        raise BadRequest(f"sort_by must be one of {', '.join(SORTS)}")
    order = request.args.get("sort_order") or "asc"
    if order not in ("asc", "desc"):
        raise BadRequest("sort_order must be asc or desc")
    return Sort(by, order == "desc")


def _record_list(
    batches: Batches, query: ListQuery, sort: Sort, every: bool
) -> JSONResponse:
    keep = None
    if query.labels or query.fields:

        def keep(item: ListedRecord) -> bool:
            labels = item.view.stored["labels"]
            return matches(query.labels, labels) and matches(
                query.fields, _fields(item)
            )

    page, more = get_client().drive(take_page(batches, query.limit, keep))
    base = base_url()
    on = scanning_on()
    body = [record_json(i.namespace, i.id, i.view, base, on) for i in page]
    response = json_response(body)
    last = page[-1] if page else None
    if last is not None:
        key = sort.key(sort_member(last, sort.by))
        key = f"{last.namespace}/{key}" if every else key
        response.headers.update(continue_headers(more, key))
    if truthy("include_total"):
        total, _ = get_client().drive(take_page(batches, None, keep))
        response.headers["X-Total-Count"] = str(len(total))
    return response


@bp.get("/namespaces/<ns>/archives")
def list_archives(ns: str) -> JSONResponse:
    """The records of `ns` by id (``deleted=true``: the trash)."""
    need_namespace(ns)
    sort = _sort()
    query = parse_list_query(request.args)
    after = sort.member(query.after)
    if after is not None and sort.by == "sha512" and not ARCHIVE_ID.fullmatch(after):
        raise BadRequest("invalid continue token")
    trash = truthy("deleted")
    batches = store().records(ns, after, trash, 500, sort.by, sort.desc)
    return _record_list(batches, query, sort, every=False)


@bp.get("/archives")
def list_all_archives() -> JSONResponse:
    """The records of every namespace, by namespace, then the sort."""
    sort = _sort()
    query = parse_list_query(request.args)
    if query.after is not None and "/" not in query.after:
        raise BadRequest("invalid continue token")
    names = sorted(get_client().drive(namespaces().names()))
    after_ns, _, after_key = (query.after or "").partition("/")
    after_id = sort.member(after_key) if query.after is not None else None
    after = None if query.after is None else (after_ns, after_id)
    batches = store().every_record(
        names, after, truthy("deleted"), 500, sort.by, sort.desc
    )
    return _record_list(batches, query, sort, every=True)


@bp.get("/namespaces/<ns>/archives/filters")
def archive_filters(ns: str) -> JSONResponse:
    """What list filters and sorts accept (8.2)."""
    need_namespace(ns)
    return json_response({"fields": FIELDS, "operators": OPERATORS, "sort_by": SORTS})
