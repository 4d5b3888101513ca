"""Waits a view hands to the server (core/park.py): the park kept across a
request's dispatches, the bound on threads that wait, and one observation per
request however often it was parked."""

from __future__ import annotations

import time

import fakeredis
from flask import request

from app import create_app
from core.errors import render
from core.observe import Observer
from core.park import PARK_KEY, Park, Parked, WaitSlots


def test_a_park_keeps_its_deadline_across_dispatches():
    park = Park()
    first = park.start(5)
    time.sleep(0.01)
    assert park.start(5) == first
    assert first - time.monotonic() <= 5


def test_hold_hands_the_wait_over_and_release_ends_it():
    park = Park()
    assert not park.held
    error = park.hold("poll", bool)
    assert isinstance(error, Parked) and park.held
    assert park.poll == "poll" and park.ready is bool
    status, headers, _ = render(error, "/archives/default/x")
    assert status == 503 and ("Retry-After", "30") in headers
    park.release()
    assert not park.held and park.poll is None


def test_wait_slots_refuse_past_their_bound():
    slots = WaitSlots(2)
    taken = [slots.take(), slots.take()]
    assert all(taken) and slots.take() is None
    taken[0].release()
    assert slots.take() is not None
    slots.resize(0)  # at least one, always
    assert slots.take() is not None and slots.take() is None


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.seen.append((route, status))


def test_a_parked_dispatch_is_not_observed():
    app = create_app({}, redis=fakeredis.FakeRedis())
    calls = []

    @app.get("/parks")
    def parks() -> str:
        park: Park = request.environ[PARK_KEY]
        calls.append(1)
        if len(calls) == 1:
            raise park.hold(None, bool)
        return "done"

    recorder = Recorder()
    app.wsgi_app.observer = Observer(False, recorder)  # type: ignore[attr-defined]
    park = Park()
    client = app.test_client()
    first = client.get("/parks", environ_base={PARK_KEY: park})
    assert first.status_code == 503 and park.held and recorder.seen == []
    park.release()
    again = client.get("/parks", environ_base={PARK_KEY: park})
    assert again.status_code == 200 and again.data == b"done"
    assert recorder.seen == [("/parks", 200)]
