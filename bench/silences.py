"""The silenced match cases' data: 10,000 silencing entries, and handlers' questions.

Entries are written through `SilencedStore.put` with the write a ``POST /silenced``
body makes (`load_v1_silence`, as the Sensu 1.x route does), into the 1.x view's
namespace, so keys, index and expiry schedule are exactly what the match reads; only
the round trips are pipelined (bench/data.py). A question is what a handler sends
for an event: the client's name, the check's, and the client's four subscriptions
(the server adds ``client:<name>``), so each match looks up 11 candidate entries.
Half of the questions are silenced, by entries of every kind.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import urlencode

from bench.data import CHECKS, TTL, pipelined
from bench.load import Request
from core.settings_load import load
from redisio.calls import Call
from redisio.clients import BlockingClient, make_client
from redisio.keys import Keys
from silenced import service
from silenced.schemas import Policy, load_v1_silence
from silenced.store import Candidate, SilencedStore

ENTRIES = 10_000
# The fleet: hosts, each in one of APPS application subscriptions.
HOSTS = 20_000
APPS = 2_000
# What the entries silence, by kind: how many of each (10,000 in all).
KINDS = {
    "client+check": 6_000,  # client:<host>:<check>, one check of one host
    "client": 1_500,  # client:<host>:*, a host in maintenance
    "subscription+check": 2_000,  # app-NNNN:<check>
    "subscription": 400,  # app-NNNN:*, an application in maintenance
    "check": 100,  # *:<check>, a check on every client (a rare, custom check)
}
# The checks only "*:<check>" entries name: each silenced everywhere.
RARE_CHECKS = tuple(f"check_batch_{n:03d}" for n in range(KINDS["check"]))
NAMESPACE = "default"  # the Sensu 1.x view's, as shipped
V1_MATCH = "/silenced/match"
GO_MATCH = f"/api/core/v2/namespaces/{NAMESPACE}/silenced/match"
# Lines in each request file, half of them silenced.
QUESTIONS = 20_000
# Every so many entries: one without expiry, one with expire_on_resolve.
NO_EXPIRY_EVERY, ON_RESOLVE_EVERY = 10, 4
# Written and deleted outside any pipeline first, so Redis caches the PUT script.
_SCRATCH = {"subscription": "bench-scratch"}


def host(n: int) -> str:
    """The name of host `n` of the fleet."""
    return f"host-{n:05d}.example.com"


def subscriptions(n: int) -> list[str]:
    """The subscriptions host `n` sends (its client: one is added by the server)."""
    return ["linux", "base", f"dc-{n % 4}", f"app-{n % APPS:04d}"]


class Entry(NamedTuple):
    """One silencing entry: what it silences (a kind of `KINDS`), whom, which check."""

    kind: str
    index: int  # the host, or the application; -1 for a "check" entry
    check: str  # "" for every check

    @property
    def subscription(self) -> str:
        """Its subscription as stored; "" for every client."""
        if self.kind.startswith("client"):
            return f"client:{host(self.index)}"
        if self.kind.startswith("subscription"):
            return f"app-{self.index:04d}"
        return ""

    @property
    def name(self) -> str:
        """Its id, ``<subscription>:<check>`` with ``*`` for a side it leaves out."""
        return f"{self.subscription or '*'}:{self.check or '*'}"


def entries(seed: int = 7) -> list[Entry]:
    """The 10,000 entries, each of its kind, no two alike."""
    rng = random.Random(seed)
    out: list[Entry] = [Entry("check", -1, check) for check in RARE_CHECKS]
    draws = {
        "client+check": lambda: Entry("client+check", rng.randrange(HOSTS),
                                      rng.choice(CHECKS)),
        "client": lambda: Entry("client", rng.randrange(HOSTS), ""),
        "subscription+check": lambda: Entry("subscription+check",
                                            rng.randrange(APPS), rng.choice(CHECKS)),
        "subscription": lambda: Entry("subscription", rng.randrange(APPS), ""),
    }  # fmt: skip
    for kind, draw in draws.items():
        chosen: set[Entry] = set()
        while len(chosen) < KINDS[kind]:
            chosen.add(draw())
        out += sorted(chosen)
    rng.shuffle(out)
    return out


def body(n: int, entry: Entry) -> dict[str, Any]:
    """The ``POST /silenced`` body of the `n`-th entry, as Uchiwa sends one."""
    return {
        "subscription": entry.subscription or None,
        "check": entry.check or None,
        "reason": f"maintenance window, see ticket OPS-{10_000 + n % 90_000}",
        "creator": "alice.martin@ops.example.com",
        "expire": 0 if n % NO_EXPIRY_EVERY == NO_EXPIRY_EVERY - 1 else TTL,
        "expire_on_resolve": n % ON_RESOLVE_EVERY == 0,
    }


class Question(NamedTuple):
    """What a handler asks about one event: host `host` ran check `check`."""

    host: int
    check: str

    def candidates(self, per_client: str) -> list[Candidate]:
        """What the server looks up (`service.candidates`, Sensu 1.x's order)."""
        subs = [*subscriptions(self.host), per_client + host(self.host)]
        return service.candidates(subs, self.check)

    def query(self, who: str) -> str:
        """The query string a handler sends; `who` is "client" or "entity"."""
        pairs = [(who, host(self.host)), ("check", self.check)]
        pairs += [("subscription", sub) for sub in subscriptions(self.host)]
        return urlencode(pairs)


def _asked(rng: random.Random, entry: Entry) -> Question:
    """A question that `entry` silences."""
    check = entry.check or rng.choice(CHECKS)
    if entry.kind.startswith("client"):
        return Question(entry.index, check)
    if entry.kind.startswith("subscription"):
        return Question(entry.index + APPS * rng.randrange(HOSTS // APPS), check)
    return Question(rng.randrange(HOSTS), check)


def questions(go: bool, seed: int = 11) -> list[tuple[Question, bool]]:
    """`QUESTIONS` questions in random order, and whether each is silenced: half are,
    each by an entry drawn at random (for Sensu Go, of the kinds its ``entity:``
    matching can hit: per-client entries are ``client:`` ones)."""
    rng = random.Random(seed)
    stored = entries()
    names = {entry.name for entry in stored}
    per_client = "entity:" if go else "client:"
    silencers = [e for e in stored if not (go and e.kind.startswith("client"))]
    out = [(_asked(rng, rng.choice(silencers)), True) for _ in range(QUESTIONS // 2)]
    while len(out) < QUESTIONS:
        question = Question(rng.randrange(HOSTS), rng.choice(CHECKS))
        if not any(c.name in names for c in question.candidates(per_client)):
            out.append((question, False))
    rng.shuffle(out)
    return out


def requests(go: bool) -> Iterator[Request]:
    """The request file's lines: a GET of the match route per question."""
    path, who = (GO_MATCH, "entity") if go else (V1_MATCH, "client")
    for question, _ in questions(go):
        yield Request("GET", f"{path}?{question.query(who)}")


class SilenceLoader:
    """Writes the entries through `SilencedStore`, then checks what the match says."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        settings = load({"REDIS_URL": redis_url, "KEY_PREFIX": prefix})
        settings["REDIS_TIMEOUT"] = 60.0  # a pipeline of big writes takes a while
        self.client = make_client(settings)
        self.store = SilencedStore(Keys(prefix), NAMESPACE)
        self.runner = BlockingClient(self.client)

    def _put(self, sent: dict[str, Any]) -> Call:
        name, write = load_v1_silence(sent, Policy())
        # As POST /silenced writes: the 1.x view needs no namespace marker.
        return self.store.put(
            NAMESPACE, name, write, create=False, need_namespace=False
        )

    def put(self, stored: list[Entry]) -> None:
        """Store every entry; the n-th with ``body(n, ...)``."""
        self.runner.run(self._put(_SCRATCH))
        self.runner.run(self.store.delete(NAMESPACE, "bench-scratch:*"))
        pipelined(self.client, (self._put(body(n, e)) for n, e in enumerate(stored)))

    def count(self) -> int:
        """Live entries of the namespace."""
        total, _ = self.runner.drive(self.store.page(NAMESPACE, 0, 0))
        return total

    def check(self, sample: int = 500) -> None:
        """Ask the first `sample` questions of each route as the service does.

        :raise RuntimeError: an answer is not the one the data was built to give.
        """
        for go, path, who in ((False, V1_MATCH, "client"), (True, GO_MATCH, "entity")):
            for question, silenced in questions(go)[:sample]:
                steps = service.match(self.store, "GET", path, question.query(who))
                reply = self.runner.drive(steps)
                if json.loads(reply.body)["silenced"] is not silenced:
                    raise RuntimeError(f"{path}?{question.query(who)}: {reply.body!r}")

    def close(self) -> None:
        """Close both connections."""
        self.runner.close()
        self.client.close()


def write(redis_url: str, prefix: str) -> None:
    """The `ENTRIES` entries, written under `prefix` and checked before use.

    :raise RuntimeError: Redis holds another count of them.
    """
    loader = SilenceLoader(redis_url, prefix)
    try:
        loader.put(entries())
        if loader.count() != ENTRIES:
            raise RuntimeError(f"{loader.count()} silencing entries, not {ENTRIES}")
        loader.check()
    finally:
        loader.close()
