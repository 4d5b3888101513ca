"""Atomic writes under concurrency, on the real redis-server only (section 11)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app

THREADS = 8


@pytest.fixture(params=[pytest.param("real", marks=pytest.mark.integration)])
def backend(request):
    """Only the real server: fakeredis serialises everything anyway."""
    return request.param


def run_together(app, calls):
    """Run each call(client) on its own thread and client, released at once."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        client = app.test_client()
        barrier.wait()
        return call(client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_consistency_concurrent_deletes_exactly_one_204(app, api):
    for round_ in range(15):
        path = f"silence/host-{round_}"
        api.create(path, {"round": round_}, expire=600 if round_ % 2 else None)
        statuses = run_together(
            app, [lambda c, p=path: c.delete("/stashes/" + p).status_code] * THREADS
        )
        assert Counter(statuses) == {204: 1, 404: THREADS - 1}, round_
        assert api.get(path).status_code == 404
    assert api.items() == []


def test_consistency_concurrent_writes_keep_content_and_ttl_together(app, api, pttl):
    ttls = [None, 0, 100, 200, 300, 400, 500, 600]
    for round_ in range(10):

        def write(client, ttl, round_=round_):
            doc = {"path": "p", "content": {"ttl": ttl, "round": round_}}
            if ttl is not None:
                doc["expire"] = ttl
            return client.post("/stashes", data=json.dumps(doc)).status_code

        statuses = run_together(app, [lambda c, t=t: write(c, t) for t in ttls])
        assert statuses == [201] * len(ttls)
        ttl = api.get("p").get_json()["ttl"]
        remaining = pttl("p")
        if not ttl:
            assert remaining == -1, (ttl, remaining)
        else:
            assert (ttl - 50) * 1000 < remaining <= ttl * 1000, (ttl, remaining)


def test_consistency_concurrent_writes_on_both_routes_never_mix(app, api, pttl):
    for round_ in range(10):
        calls = [
            lambda c: c.post("/stashes/p", data='{"by": "write"}').status_code,
            lambda c: (
                c.post(
                    "/stashes",
                    data='{"path": "p", "content": {"by": "create"}, "expire": 300}',
                ).status_code
            ),
        ] * (THREADS // 2)
        assert run_together(app, calls) == [201] * THREADS
        by, remaining = api.get("p").get_json()["by"], pttl("p")
        if by == "write":
            assert remaining == -1, round_
        else:
            assert 250_000 < remaining <= 300_000, round_
        assert api.paths() == ["p"]


def test_consistency_readers_beside_writers_get_200s(app, api):
    api.create("p", {"n": 0})
    stop = threading.Event()

    def writer(client):
        n = 0
        while not stop.is_set() and n < 300:
            n += 1
            if n % 2:
                client.post("/stashes/p", data=json.dumps({"n": n}))
            else:
                doc = {"path": "p", "content": {"n": n}, "expire": 600}
                client.post("/stashes", data=json.dumps(doc))
        stop.set()
        return []

    def reader(client):
        seen = []
        while not stop.is_set():
            one = client.get("/stashes/p")
            listed = client.get("/stashes")
            paths = [i["path"] for i in listed.get_json()]
            seen.append((one.status_code, listed.status_code, paths))
        return seen

    results = run_together(app, [writer, writer, reader, reader, reader])
    reads = [r for result in results for r in result]
    assert reads
    assert all(r == (200, 200, ["p"]) for r in reads), Counter(map(str, reads))


def test_consistency_list_matches_gets_after_concurrent_writes(app, api):
    paths = [f"s{i:02d}" for i in range(24)]

    def churn(client, mine):
        for path in mine:
            client.post("/stashes/" + path, data="{}")
            client.post(
                "/stashes", data=json.dumps({"path": path, "content": {}, "expire": 60})
            )
            if int(path[1:]) % 3 == 0:
                client.delete("/stashes/" + path)
        return None

    run_together(
        app, [lambda c, i=i: churn(c, paths[i::THREADS]) for i in range(THREADS)]
    )
    listed = api.paths()
    assert len(listed) == len(set(listed))
    live = [p for p in paths if api.get(p).status_code == 200]
    assert listed == live
    assert live == [p for p in paths if int(p[1:]) % 3]


def test_consistency_another_worker_sees_each_write_at_once(app, api):
    other = create_app({"REDIS_URL": app.config["REDIS_URL"]}).test_client()
    try:
        for n in range(5):
            assert api.create("p", {"n": n}, expire=60).status_code == 201
            assert other.get("/stashes/p").get_json() == {"n": n}
            assert (
                other.post("/stashes/p", data=json.dumps({"m": n})).status_code == 201
            )
            assert api.get("p").get_json() == {"m": n}
            assert api.items()[0]["expire"] == -1
        assert other.delete("/stashes/p").status_code == 204
        assert api.get("p").status_code == 404
        assert api.items() == []
    finally:
        other.application.extensions["redis"].close()
