"""The match against a plain reading of Sensu's rules (spec silenced.md 6, 11, D2).

Random entries and questions, on fakeredis and on a real redis-server: every
answer must be what the rules say, byte for byte as `strictjson` writes it, whether
the query takes the plain path (`service.plain_question`) or Werkzeug's parser.
Also the match strings the match reads, which live and die with their entries.
"""

from __future__ import annotations

import random
import time
from typing import Any, NamedTuple
from urllib.parse import quote

import hiredis
import pytest
from redis.crc import key_slot

from core import strictjson
from core.errors import BadRequest
from redisio.keys import Keys
from redisio.wire import unpacked
from sensu1.query import query_args
from silenced import service
from silenced.schemas import name_of, side
from silenced.store import SilencedStore, Write

SUBSCRIPTIONS = ["web", "db", "a", "a:b", "client:h1", "client:h2", "entity:h1"]
SUBSCRIPTIONS += ["x.y-z", 'q"t', "back\\slash", "sp ace", "ünï", "tab\tbed", "+"]
CHECKS = ["disk", "cpu", "c", "b:c", "x.y", "d&e", "ç"]
CLIENTS = ["", "h1", "h2", "a", 'q"t']
GO_PATH = "/api/core/v2/namespaces/default/silenced/match"


class Entry(NamedTuple):
    """A stored entry as the rules see it: its sides ("" absent) and begin."""

    sub: str
    check: str
    begin: int | None
    live: bool


def sensu1(entries: dict[str, Entry], client: str, check: str, subs: list[str]):
    """Section 6: for each subscription ``s`` (``client:<name>`` included),
    ``s:*`` and ``s:<check>``; then ``*:<check>``. Found entries that have begun."""
    now = time.time()
    subs = [s for s in subs if side(s)] + ([f"client:{client}"] if client else [])
    wanted = [f"{s}:{c}" for s in subs for c in ("*", check)] + [f"*:{check}"]
    return sorted(
        {
            name
            for name in wanted
            if name in entries
            and entries[name].live
            and (entries[name].begin is None or entries[name].begin <= now)
        }
    )


def sensu_go(entries: dict[str, Entry], entity: str, check: str, subs: list[str]):
    """Section 11: an entry applies when its subscription is absent or one of the
    event's (``entity:<name>`` included) and its check absent or the event's; never
    both absent. Entries that have not begun never apply."""
    now = time.time()
    subs = [s for s in subs if side(s)] + ([f"entity:{entity}"] if entity else [])
    return sorted(
        name
        for name, e in entries.items()
        if e.live
        and (e.begin is None or e.begin <= now)
        and (e.sub in subs or e.sub == "")
        and e.check in ("", check)
        and (e.sub, e.check) != ("", "")
    )


def answer(names: list[str]) -> bytes:
    return strictjson.dumps({"silenced": bool(names), "silenced_by": names})


def raw_query(rng: random.Random, pairs: list[tuple[str, str]]) -> str:
    """`pairs` as a query string: raw where that is valid, percent-encoded or
    with "+" for spaces now and then, as clients do."""
    out = []
    for key, value in pairs:
        way = rng.random()
        if way < 0.6 and value.isascii() and "&" not in value and "%" not in value:
            text = value
        elif way < 0.8:
            text = quote(value, safe="")
        else:
            text = quote(value, safe=":*").replace("%20", "+")
        out.append(f"{key}={text}" if rng.random() < 0.95 or value else key)
    if rng.random() < 0.1:
        out.insert(rng.randrange(len(out) + 1), rng.choice(["", "x=1", "checks=z"]))
    return "&".join(out)


def question(rng: random.Random, who: str) -> tuple[str, str, list[str], str]:
    """A random question: the client (or entity), check and subscriptions it asks
    about as Flask would read them, and its query string."""
    client = rng.choice(CLIENTS)
    check = rng.choice([*CHECKS, "*", "disk"])
    subs = rng.sample([*SUBSCRIPTIONS, "*", ""], rng.randrange(5))
    if subs and rng.random() < 0.2:
        subs.append(subs[0])  # repeated
    pairs = [(who, client)] if client or rng.random() < 0.3 else []
    pairs += [("subscription", s) for s in subs]
    pairs.insert(rng.randrange(len(pairs) + 1), ("check", check))
    query = raw_query(rng, pairs)
    args = query_args(query)  # the URL's rules: raw "+" is a space, and so on
    clients = args.getlist(who)
    return clients[-1] if clients else "", check, args.getlist("subscription"), query


@pytest.fixture
def store(app: Any) -> SilencedStore:
    return app.extensions["silenced"]


@pytest.fixture
def run(app: Any) -> Any:
    return app.extensions["client"]


def write_entries(rng, store, run, shorten, count: int = 60) -> dict[str, Entry]:
    """`count` random writes into namespace default: some expired since, some
    beginning in an hour, some replacing others."""
    entries: dict[str, Entry] = {}
    now = int(time.time())
    for _ in range(count):
        sub = rng.choice([*SUBSCRIPTIONS, "", ""])
        check = rng.choice([*CHECKS, "", ""])
        if not sub and not check:
            continue
        begin = rng.choice([None, None, now - 3600, now + 3600])
        live = rng.random() < 0.85
        rule = rng.choice(["v1", "go"])
        if rule == "go" and begin is None:
            begin = now  # the Go rule's begin: the write's time
        fields = {k: v for k, v in (("sub", sub), ("check", check)) if v}
        fields["eor"] = "0"
        write = Write(fields, 0 if live else 600, begin, rule)
        name = name_of(sub, check)
        run.run(store.put("default", name, write, create=False, need_namespace=False))
        if not live:
            shorten(name, -1)
        entries[name] = Entry(sub, check, begin, live)
    return entries


@pytest.mark.parametrize("seed", [1, 2])
def test_answers_follow_sensu_rules(store, run, shorten, seed):
    rng = random.Random(seed)
    entries = write_entries(rng, store, run, shorten)
    for _ in range(150):
        for path, who, rule in (
            ("/silenced/match", "client", sensu1),
            (GO_PATH, "entity", sensu_go),
        ):
            client, check, subs, query = question(rng, who)
            reply = run.drive(service.match(store, "GET", path, query))
            assert reply.status == 200, (query, reply)
            expected = rule(entries, client, check, subs)
            assert reply.body == answer(expected), (path, query, entries)


def test_the_route_answers_as_the_service(v1, client):
    v1.created(subscription="linux", check="disk")
    v1.created(subscription="client:web1")
    for query in [
        "client=web1&check=disk&subscription=linux",
        "check=disk&subscription=lin%75x&client=web%31",
        "check=cpu&subscription=linux&subscription=linux&client=web1",
        "check=cpu&subscription=linux",
    ]:
        args = query_args(query)
        expected = sensu1(
            {
                "linux:disk": Entry("linux", "disk", None, True),
                "client:web1:*": Entry("client:web1", "", None, True),
            },
            args.get("client", ""),
            args.getlist("check")[-1],
            args.getlist("subscription"),
        )
        response = client.get("/silenced/match?" + query)
        assert response.status_code == 200
        assert response.data == answer(expected), query


def test_answers_escape_what_json_needs(store, run):
    for sub in ['q"t', "back\\slash", "tab\tbed"]:
        write = Write({"sub": sub, "eor": "0"}, 0)
        run.run(store.put("default", f"{sub}:*", write, False, False))
        query = "check=disk&subscription=" + sub
        reply = run.drive(service.match(store, "GET", "/silenced/match", query))
        assert reply.body == answer([f"{sub}:*"])


def candidate_names(query: str) -> list[str] | BadRequest:
    """The names Werkzeug's parser and `service._question` make of `query`."""
    args = query_args(query)
    checks, clients = args.getlist("check"), args.getlist("client")
    try:
        found = service._question(
            clients[-1] if clients else None,
            checks[-1] if checks else None,
            args.getlist("subscription"),
            "client:",
            "client",
        )
    except BadRequest as exc:
        return exc
    return [c.name for c in found]


def test_plain_queries_make_the_same_candidates_as_werkzeug():
    rng = random.Random(5)
    alphabet = ["a", "b", ":", "*", "&", "=", "-", ".", '"', "\\", " ", "%41", "+"]
    keys = ["check", "client", "subscription", "subscription", "other", ""]
    plain = 0
    for _ in range(3000):
        pairs = []
        for _ in range(rng.randrange(7)):
            value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(4)))
            pairs.append(rng.choice(keys) + rng.choice(["=", "=", ""]) + value)
        query = "&".join(pairs)
        expected = candidate_names(query)
        try:
            found = service.plain_question(query)
        except BadRequest as exc:
            assert isinstance(expected, BadRequest), query
            assert str(exc) == str(expected), query
            continue
        if found is None:
            continue
        plain += 1
        subs, check = found
        names = [f"{s}:{c}" for c in ("*", check) for s in subs] + [f"*:{check}"]
        assert not isinstance(expected, BadRequest), query
        assert sorted(names) == sorted(expected), query
    assert plain > 100


def test_plain_questions_refuse_as_werkzeug_does():
    many = "&".join(["subscription=*"] * (service.MAX_SUBSCRIPTIONS + 1))
    for query in ["client=web1", "check=&client=w", "check=x&check", many + "&check=x"]:
        with pytest.raises(BadRequest) as plain:
            service.plain_question(query)
        assert str(plain.value) == str(candidate_names(query)), query


def test_match_reads_one_string_per_candidate():
    store = SilencedStore(Keys("stashd"), "default")
    call = store.match_subscriptions("team", ["web", "client:h"], "disk")
    args = unpacked(call.args)
    assert call.args == hiredis.pack_command(args)  # packed as it was made
    assert args[0] == "MGET" and len(args) == 6
    keys = args[1:]
    assert {key_slot(key.encode()) for key in keys} == {
        key_slot(Keys("stashd").silenced_index("team").encode())
    }
    assert sorted(key.rsplit("match:", 1)[1] for key in keys) == sorted(
        ["web:*", "web:disk", "client:h:*", "client:h:disk", "*:disk"]
    )
    begun, ahead = b"%d:3:web" % (time.time() - 5), b"%d:3:web" % (time.time() + 60)
    found = [None, begun, ahead, None, b":0:disk"]
    assert call.result(found) == [keys[1][len(keys[1]) - 8 :], "*:disk"]
    assert call.result([None] * 5) == []


def test_every_match_string_shares_its_namespace_slot():
    keys = Keys("stashd")
    for ns in ["default", "a:b"]:
        slot = key_slot(keys.silenced_index(ns).encode())
        assert key_slot(keys.silence_match(ns, "{x}:y").encode()) == slot


def test_match_strings_live_and_die_with_their_entries(v1, redis_client, keys, pttl):
    def match_key(name: str) -> str:
        return keys.silence_match("default", name)

    v1.created(subscription="web", expire=60, begin=int(time.time()) - 5)
    v1.created(check="disk")
    assert redis_client.exists(match_key("web:*"), match_key("*:disk")) == 2
    assert abs(redis_client.pttl(match_key("web:*")) - pttl("web:*")) < 1000
    assert redis_client.pttl(match_key("*:disk")) == -1
    v1.created(subscription="web")  # replaced without expiry
    assert redis_client.pttl(match_key("web:*")) == -1
    assert v1.clear({"id": "web:*"}).status_code == 204
    assert not redis_client.exists(match_key("web:*"))
    v1.created(subscription="db", check="x", expire_on_resolve=True)
    body = {"check": "x", "subscriptions": ["db"]}
    assert v1.client.post("/silenced/resolve", json=body).status_code == 200
    assert not redis_client.exists(match_key("db:x"))
    v1.clear({"check": "disk", "all": True})
    assert redis_client.keys(match_key("*")) == []


def test_a_deadline_already_past_leaves_no_match_string(app, store, run, keys):
    write = Write({"sub": "web", "eor": "0"}, 60, None, "ttl", -5)
    run.run(store.put("default", "web:*", write, False, False))
    assert not app.extensions["redis"].exists(keys.silence_match("default", "web:*"))
