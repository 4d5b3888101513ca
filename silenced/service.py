"""What each silenced request does, whichever front end serves it.

Every function is a generator of `Steps`: it yields each Redis round trip the store
describes, is sent the result, and returns a `Reply`; Flask views (`routes`,
`go_routes`) drive them with the blocking client, and `match` is written so that a
fast path can drive it on an event loop too. Failures are raised as the errors of
`core.errors`, which render them in the dialect of the request's path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from typing import Any

from core import strictjson
from core.errors import BadRequest, Conflict, MethodNotAllowed, NotFound
from core.replies import Reply
from redisio.calls import Steps
from sensu1.query import ListQuery, matches, query_args
from silenced.schemas import (
    NAMESPACE,
    Policy,
    decode_go,
    load_go_silence,
    load_v1_clear,
    load_v1_silence,
    name_of,
    side,
)
from silenced.store import EXISTS, NO_NAMESPACE, Candidate, SilencedStore, Stored
from silenced.views import go_json, v1_json

# More subscriptions than this in one match or resolve question get 400.
MAX_SUBSCRIPTIONS = 1000
GO_PREFIX = "/api/core/v2/namespaces/"


def _json(value: Any) -> bytes:
    return strictjson.dumps(value)


# Sensu 1.x (sections 1-4)


def list_v1(
    store: SilencedStore,
    query: ListQuery,
    subscription: str | None = None,
    check: str | None = None,
) -> Steps[Reply]:
    """The 1.x view's entries by id: exact `subscription`/`check` selection and
    ``filter.*`` first, then ``limit``/``offset`` with an exact live total."""
    ns = store.v1_namespace
    if query.limit is not None and not query.filters and not (subscription or check):
        total, entries = yield from store.page(ns, query.offset, query.limit)
        items = [v1_json(entry) for entry in entries]
    else:
        items = [
            item
            for item in map(v1_json, (yield from store.scan(ns)))
            if (subscription is None or item["subscription"] == subscription)
            and (check is None or item["check"] == check)
            and matches(item, query.filters)
        ]
        total = len(items)
        if query.limit is not None:
            items = items[query.offset : query.offset + query.limit]
    if query.limit is None:
        return Reply(200, _json(items))
    paging = {"limit": query.limit, "offset": query.offset, "total": total}
    header = json.dumps(paging, separators=(",", ":"))
    return Reply(200, _json(items), (("X-Pagination", header),))


def get_v1(store: SilencedStore, name: str) -> Steps[Reply]:
    """One entry by its exact id. :raise NotFound:"""
    entry = yield from store.get(store.v1_namespace, name)
    if entry is None:
        raise NotFound()
    return Reply(200, _json(v1_json(entry)))


def create_v1(store: SilencedStore, body: bytes, policy: Policy) -> Steps[Reply]:
    """Create or replace the entry a ``POST /silenced`` body describes (1.x replaces).

    :raise BadRequest: the body breaks a rule; nothing is changed then.
    """
    name, write = load_v1_silence(strictjson.parse_object(body), policy)
    yield store.put(store.v1_namespace, name, write, create=False, need_namespace=False)
    return Reply(201)


def clear_v1(store: SilencedStore, body: bytes) -> Steps[Reply]:
    """Clear one entry, or with ``"all": true`` every one whose sides are those
    given, in one step. :raise NotFound: nothing was cleared."""
    clear = load_v1_clear(strictjson.parse_object(body))
    ns = store.v1_namespace
    if clear.name is not None:
        cleared = yield store.delete(ns, clear.name)
    else:
        cleared = yield from store.clear(ns, clear.subscription, clear.check)
    if not cleared:
        raise NotFound()
    return Reply(204)


# Is this silenced? (D2, sections 6 and 11)


def candidates(subscriptions: list[str], check: str) -> list[Candidate]:
    """The entries that would silence `check` for these subscriptions: for each
    ``s``, ``s:*`` and ``s:<check>``; then ``*:<check>`` (Sensu 1.x's lookups)."""
    seen: dict[str, Candidate] = {}
    for sub, chk in [
        *((s, c) for s in subscriptions for c in ("", check)),
        ("", check),
    ]:
        name = name_of(sub, chk)
        seen.setdefault(name, Candidate(name, sub, chk))
    return list(seen.values())


def _question(
    client: Any, check: Any, subscriptions: Any, per_client: str, who: str
) -> list[Candidate]:
    """The candidates of one event. :raise BadRequest: with what is wrong."""
    if not isinstance(check, str) or not check:
        raise BadRequest("check is required")
    if client is not None and not isinstance(client, str):
        raise BadRequest(f"{who} must be a string")
    if subscriptions is None:
        subscriptions = []
    if not isinstance(subscriptions, list) or not all(
        isinstance(s, str) for s in subscriptions
    ):
        raise BadRequest("subscriptions must be an array of strings")
    if len(subscriptions) > MAX_SUBSCRIPTIONS:
        raise BadRequest(f"at most {MAX_SUBSCRIPTIONS} subscriptions")
    subs = [side(s) for s in subscriptions]
    if client:
        subs.append(per_client + client)
    for text in (check, *subs):
        try:
            text.encode()
        except UnicodeEncodeError:
            raise BadRequest("text must be valid Unicode") from None
    return candidates([s for s in dict.fromkeys(subs) if s], check)


def _view(store: SilencedStore, path: str) -> tuple[str, str, str, bool] | None:
    """Namespace, per-client prefix, client parameter and matching mode of a match
    or resolve path; None for other paths."""
    if path.rsplit("/", 1)[0] == "/silenced":
        return store.v1_namespace, "client:", "client", False
    if path.startswith(GO_PREFIX):
        ns, _, rest = path[len(GO_PREFIX) :].partition("/")
        if rest.rsplit("/", 1)[0] == "silenced" and NAMESPACE.fullmatch(ns):
            return ns, "entity:", "entity", True
    return None


NOT_SILENCED = Reply(200, b'{"silenced":false,"silenced_by":[]}')


def plain_question(query: str) -> tuple[Collection[str], str] | None:
    """The subscriptions (distinct and present, ``client:<name>`` among them) and
    the check of a 1.x match query that needs no decoding (ASCII, no ``%`` or
    ``+``), when their candidates (`candidates`) differ as the subscriptions do (no
    ``:`` in the check, and not ``*``); None for any other query, which
    `query_args` must parse. :raise BadRequest:"""
    if not query.isascii() or "%" in query or "+" in query:
        return None
    client = check = ""
    present: dict[str, None] = {}  # distinct, in order
    asked = 0
    # parse_qsl's rules for such a query: pairs split at "&" (empty ones skipped),
    # name and value at the first "=", the last value of a name wins.
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "subscription":
            present[value] = None
            asked += 1
        elif key == "check":
            check = value
        elif key == "client":
            client = value
    if not check:
        raise BadRequest("check is required")
    if asked > MAX_SUBSCRIPTIONS:
        raise BadRequest(f"at most {MAX_SUBSCRIPTIONS} subscriptions")
    if ":" in check or check == "*":
        return None
    present.pop("", None)  # "" and "*" are "absent" (schemas.side)
    present.pop("*", None)
    if client:
        present["client:" + client] = None
    return present, check


def _silenced_by(names: list[str]) -> Reply:
    """The answer naming `names` (sorted here), which are ASCII text."""
    names.sort()
    text = "".join(names)
    if text.isprintable() and '"' not in text and "\\" not in text:
        listed = '","'.join(names).encode()  # nothing to escape in JSON
        return Reply(200, b'{"silenced":true,"silenced_by":["' + listed + b'"]}')
    return Reply(200, _json({"silenced": True, "silenced_by": names}))


def match_v1(store: SilencedStore, query: str) -> Steps[Reply]:
    """``GET /silenced/match``: Sensu 1.x's rule over the 1.x view, one round trip.
    `query` is the raw query string. :raise BadRequest:"""
    plain = plain_question(query)
    if plain is not None:
        names = yield store.match_subscriptions(store.v1_namespace, *plain)
        return _silenced_by(names) if names else NOT_SILENCED
    args = query_args(query)
    checks, clients = args.getlist("check"), args.getlist("client")
    found = _question(
        clients[-1] if clients else None,
        checks[-1] if checks else None,
        args.getlist("subscription"),
        "client:",
        "client",
    )
    names = yield store.match(store.v1_namespace, found, False)
    return Reply(200, _json({"silenced": bool(names), "silenced_by": sorted(names)}))


def match(store: SilencedStore, method: str, path: str, query: str) -> Steps[Reply]:
    """Is an event silenced (``GET /silenced/match``, ``.../<ns>/silenced/match``)?
    One round trip. `path` is the decoded URL path, `query` the raw query string.
    :raise NotFound: other paths. :raise MethodNotAllowed: :raise BadRequest:"""
    view = _view(store, path)
    if view is None or not path.endswith("/match"):
        raise NotFound()
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed(["GET", "HEAD"])
    ns, per_client, who, by_fields = view
    if not by_fields:
        return (yield from match_v1(store, query))
    args = query_args(query)
    checks, clients = args.getlist("check"), args.getlist(who)
    found = _question(
        clients[-1] if clients else None,
        checks[-1] if checks else None,
        args.getlist("subscription"),
        per_client,
        who,
    )
    names = yield store.match(ns, found, by_fields)
    body = {"silenced": bool(names), "silenced_by": sorted(names)}
    return Reply(200, _json(body))


def resolve(store: SilencedStore, path: str, body: bytes) -> Steps[Reply]:
    """``POST .../silenced/resolve``: the event resolved, so delete every matching
    entry with expire_on_resolve, in one step (section 6.3, D2)."""
    view = _view(store, path)
    if view is None:
        raise NotFound()
    ns, per_client, who, by_fields = view
    data = strictjson.parse_object(body)
    found = _question(
        data.get(who), data.get("check"), data.get("subscriptions"), per_client, who
    )
    names = yield store.resolve(ns, found, by_fields)
    return Reply(200, _json({"cleared": sorted(names)}))


# Sensu Go (sections 7-10)


def etag_of(data: bytes) -> str:
    """The ETag of an entry: a digest of exactly what GET sends."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _go_list(entries: list[Stored], keep: Callable[[dict], bool] | None) -> Reply:
    items = [go_json(entry) for entry in entries]
    if keep is not None:
        items = [item for item in items if keep(item)]
    return Reply(200, _json(items))


def list_go(
    store: SilencedStore,
    ns: str,
    select: Callable[[Stored], bool] | None = None,
    keep: Callable[[dict], bool] | None = None,
) -> Steps[Reply]:
    """Every live entry of `ns` that `select` keeps, by name; never paged (D5)."""
    entries = yield from store.scan(ns)
    return _go_list([e for e in entries if select is None or select(e)], keep)


def list_go_all(
    store: SilencedStore,
    select: Callable[[Stored], bool] | None = None,
    keep: Callable[[dict], bool] | None = None,
) -> Steps[Reply]:
    """The entries of every namespace, by ``<namespace>/<name>``."""
    namespaces = yield store.namespaces()
    entries: list[Stored] = []
    for ns in sorted(namespaces, key=lambda ns: ns + "/"):
        entries += [e for e in (yield from store.scan(ns)) if not select or select(e)]
    return _go_list(entries, keep)


def get_go(store: SilencedStore, ns: str, name: str) -> Steps[Reply]:
    """One entry with its ETag. :raise NotFound:"""
    entry = yield from store.get(ns, name)
    if entry is None:
        raise NotFound("silenced entry not found")
    data = _json(go_json(entry))
    return Reply(200, data, (("ETag", etag_of(data)),))


def write_go(
    store: SilencedStore,
    ns: str,
    body: bytes,
    user: str,
    policy: Policy,
    url_name: str | None = None,
) -> Steps[Reply]:
    """POST (`url_name` None: 409 when the name exists) or PUT (create or replace).
    :raise BadRequest: wrong types, another namespace or name, an invalid entry.
    :raise NotFound: no such namespace. :raise Conflict:"""
    decoded = decode_go(strictjson.parse(body))
    meta = decoded["metadata"]
    if meta["namespace"] != ns:
        raise BadRequest(
            f"the namespace of the resource ({meta['namespace']}) does not match "
            f"the namespace of the URI ({ns})"
        )
    if url_name is not None and meta["name"] != url_name:
        raise BadRequest(
            f"the name of the resource ({meta['name']}) does not match the name of "
            f"the URI ({url_name})"
        )
    name, write = load_go_silence(decoded, user, policy)
    if url_name is not None and name != url_name:
        raise BadRequest(
            f"the name of the resource ({name}) does not match the name of the URI "
            f"({url_name})"
        )
    outcome = yield store.put(
        ns, name, write, create=url_name is None, need_namespace=True
    )
    if outcome == NO_NAMESPACE:
        raise NotFound(f"the namespace {ns} does not exist")
    if outcome == EXISTS:
        raise Conflict()
    return Reply(201)


def delete_go(store: SilencedStore, ns: str, name: str) -> Steps[Reply]:
    """Delete one entry. :raise NotFound:"""
    if not (yield store.delete(ns, name)):
        raise NotFound()
    return Reply(204)
