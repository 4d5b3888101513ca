"""`flask --app wsgi export` and `import`: a deployment holding every kind of record
goes out to a file and comes back the same."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
import tracemalloc
from typing import Any

import pytest
import redis

import backup
from accounts.passwords import hash_password
from accounts.store import ApiKey
from app import create_app
from archives.scan_store import Verdict
from redisio.calls import Call
from sensugo.paging import take_page
from tests.archives.helpers import sha512, tarball, upload
from tests.archives.test_scan import runs, use, work
from tests.sensugo import AUTH, CORE, asset

STASHES = 1_205  # past a batch of the store (1,000) and of the import (500)
ARCHIVES = [tarball({"bin/tool": b"#!/bin/sh\n"}), tarball({"bin/old": b"old\n"})]


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def populate(app: Any, client: Any) -> None:
    """Every kind of record: namespaces, users, API keys (the fixture's too),
    stashes with and without a lifetime, silences of both APIs, assets, archive
    records (one with an alias, one in the trash)."""
    accounts, runner = app.extensions["accounts"], app.extensions["client"]
    runner.run(accounts.put_user("ops", hash_password("ops-pw"), 1_700_000_000))
    key = ApiKey(digest="cd" * 32, username="ops", created_by="admin", created_at=7)
    runner.run(accounts.put_apikey(key))
    assert client.put(f"{CORE}/namespaces/ops", json={"name": "ops"}, headers=AUTH)
    stashes = app.extensions["stashes"]
    for i in range(STASHES):
        runner.run(stashes.put(f"bulk/{i:05}", b'{"n":%d}' % i, None))
    assert (
        client.post(
            "/stashes",
            json={"path": "silence/web1", "content": {"reason": "é"}, "expire": 3600},
        ).status_code
        == 201
    )
    v1 = {"subscription": "linux", "check": "disk", "expire": 600, "reason": "r"}
    assert client.post("/silenced", json=v1).status_code == 201
    v1_forever = {"check": "load", "expire_on_resolve": True, "creator": "me"}
    assert client.post("/silenced", json=v1_forever).status_code == 201
    go = {
        "metadata": {
            "name": "entity:db1:*",
            "namespace": "ops",
            "labels": {"team": "db"},
        },
        "subscription": "entity:db1",
        "begin": int(time.time()) + 86_400,
        "expire": 60,
    }
    url = f"{CORE}/namespaces/ops/silenced/entity:db1:*"
    response = client.put(url, json=go, headers=AUTH)
    assert response.status_code == 201, response.data
    for ns, name in (("default", "sensu/slack"), ("ops", "tool:1"), ("ops", "z")):
        body = asset(name, ns, labels={"region": "eu"})
        url = f"{CORE}/namespaces/{ns}/assets"
        assert client.post(url, json=body, headers=AUTH).status_code == 201
    kept = upload(client, ARCHIVES[0], ns="ops", alias="tools/latest.tar.gz")
    assert kept.status_code == 201, kept.data
    assert upload(client, ARCHIVES[1]).status_code == 201
    trashed = f"{CORE}/namespaces/default/archives/{sha512(ARCHIVES[1])}"
    assert client.delete(trashed, headers=AUTH).status_code == 204


def snapshot(app: Any) -> dict[str, Any]:
    """Everything the deployment holds, read through its stores; lifetimes to the
    nearest minute, so a round trip's seconds do not count."""
    runner = app.extensions["client"]
    drive, run_ = runner.drive, runner.run
    stashes = [
        (s.path, s.content, -1 if s.expire < 0 else (s.expire + 30) // 60)
        for s in drive(app.extensions["stashes"].scan())
    ]
    silenced_store = app.extensions["silenced"]
    silences = []
    for ns in run_(silenced_store.namespaces()):
        for entry in drive(silenced_store.scan(ns)):
            fields = dict(entry.fields)
            deadline = fields.pop("deadline", None)
            silences.append(
                (
                    ns,
                    entry.name,
                    fields,
                    deadline is not None,
                    (entry.pttl + 30_000) // 60_000,
                )
            )
    namespaces = drive(app.extensions["namespaces"].names())
    assets = []
    for ns in namespaces:
        page, _ = drive(take_page(app.extensions["assets"].assets(ns, None), None))
        for item in page:
            stored = run_(app.extensions["assets"].get_asset(ns, item.name))
            assets.append((ns, item.name, json.loads(item.json), stored.etag))
    archives = [
        (item.namespace, item.id, item.view)
        for trash in (False, True)
        for item in drive(
            take_page(
                app.extensions["archives"].every_record(namespaces, None, trash, 2),
                None,
            )
        )[0]
    ]
    accounts = app.extensions["accounts"]
    users, _ = drive(take_page(accounts.user_records(None), None))
    keys, _ = drive(take_page(accounts.apikeys(None), None))
    return {
        "namespaces": namespaces,
        "stashes": stashes,
        "silenced": silences,
        "assets": assets,
        "archives": archives,
        "users": users,
        "apikeys": keys,
    }


def wipe(app: Any) -> None:
    app.extensions["redis"].flushall()


def lines(path: Any) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def deployment(app: Any, client: Any) -> Any:
    populate(app, client)
    return app


def test_round_trip_restores_every_record(deployment, tmp_path):
    before = snapshot(deployment)
    file = tmp_path / "backup.jsonl"

    result = run(deployment, "export", str(file))

    assert result.exit_code == 0, result.output
    total = 2 + 2 + 2 + STASHES + 1 + 3 + 3 + 2
    assert f"exported {total} records to {file}" in result.output
    assert f"{STASHES + 1} stash" in result.output
    wipe(deployment)
    assert snapshot(deployment)["stashes"] == []

    result = run(deployment, "import", str(file))

    assert result.exit_code == 0, result.output
    assert f"imported {total} records:" in result.output
    assert "2 namespace, 2 user, 2 apikey" in result.output
    assert "skipped 0 existing, 0 invalid, 0 not stored" in result.output
    assert snapshot(deployment) == before
    assert len(before["stashes"]) == STASHES + 1
    assert ("silence/web1", '{"reason":"é"}'.encode(), 60) in before["stashes"]
    assert len(before["silenced"]) == 3
    assert before["users"][1].password_hash.startswith("scrypt")
    (_, _, live), (_, _, trashed) = before["archives"]
    assert live.aliases == ["tools/latest.tar.gz"] and live.deleted_at is None
    assert trashed.deleted_at is not None


def test_round_trip_serves_the_same_answers(deployment, client, tmp_path):
    file = tmp_path / "backup.jsonl"
    urls = [
        # First: it notes the download, which the record shows.
        "/archives/ops/paths/tools/latest.tar.gz",
        "/stash/silence/web1",
        "/silenced",
        f"{CORE}/namespaces/ops/silenced",
        f"{CORE}/namespaces/ops/assets",
        f"{CORE}/namespaces/default/assets/sensu%2Fslack",
        "/silenced/match?client=db1&check=disk&subscription=linux",
        f"{CORE}/namespaces/ops/archives/{sha512(ARCHIVES[0])}",
        f"{CORE}/namespaces/default/archives?deleted=true",
    ]
    before = [client.get(url, headers=AUTH) for url in urls]
    assert run(deployment, "export", str(file)).exit_code == 0
    wipe(deployment)
    assert run(deployment, "import", str(file)).exit_code == 0

    after = [client.get(url, headers=AUTH) for url in urls]

    for old, new in zip(before, after, strict=True):
        assert new.status_code == old.status_code == 200
        assert new.headers.get("ETag") == old.headers.get("ETag")
        old_json, new_json = old.get_json(), new.get_json()
        if isinstance(old_json, dict) and "expire" in old_json:
            assert abs(old_json.pop("expire") - new_json.pop("expire")) <= 2
        assert new_json == old_json or _without_lifetimes(new_json) == (
            _without_lifetimes(old_json)
        )
    assert after[0].data == before[0].data == ARCHIVES[0]
    for response in before + after:
        response.close()
    # The API key and the user's password still open the door.
    assert client.get(f"{CORE}/namespaces", headers=AUTH).status_code == 200
    login = client.get("/auth", auth=("ops", "ops-pw"))
    assert login.status_code == 200


def _without_lifetimes(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_lifetimes(item) for item in value]
    if isinstance(value, dict):
        return {
            k: _without_lifetimes(v)
            for k, v in value.items()
            if k not in ("expire", "expire_at")
        }
    return value


def test_export_file_format_and_privacy(deployment, tmp_path):
    file = tmp_path / "backup.jsonl"

    assert run(deployment, "export", str(file)).exit_code == 0

    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    records = lines(file)
    assert records[0]["format"] == "stashd-backup"
    assert records[0]["version"] == backup.VERSION
    assert records[-1] == {"kind": "end", "records": len(records) - 2}
    kinds = [r["kind"] for r in records[1:-1]]
    # The order a restore needs: namespaces and users before what lives in them.
    order = ["namespace", "user", "apikey", "stash", "silenced", "asset", "archive"]
    assert sorted(set(kinds), key=order.index) == order
    assert kinds == sorted(kinds, key=order.index)
    by_kind = {r["kind"]: r for r in records[-2:0:-1]}  # the first of each kind
    assert by_kind["stash"] == {
        "kind": "stash",
        "path": "bulk/00000",
        "ttl_ms": None,
        "content": {"n": 0},
    }
    web1 = next(r for r in records if r.get("path") == "silence/web1")
    assert 3_500_000 < web1["ttl_ms"] <= 3_600_000
    assert "cd" * 32 in {r.get("digest") for r in records}
    text = file.read_text()
    assert "ops-pw" not in text and "test-key" not in text
    assert "access" not in text  # tokens are left behind


def test_import_leaves_out_an_archive_record_whose_blob_is_missing(
    deployment, client, tmp_path
):
    file = tmp_path / "backup.jsonl"
    assert run(deployment, "export", str(file)).exit_code == 0
    wipe(deployment)
    missing = sha512(ARCHIVES[0])
    os.remove(deployment.extensions["blobs"].path(missing))

    result = run(deployment, "import", str(file))

    assert result.exit_code == 1
    assert f"archive {missing[:16]}... has no blob of" in result.output
    assert "1 invalid" in result.output
    records = f"{CORE}/namespaces/ops/archives/{missing}"
    assert client.get(records, headers=AUTH).status_code == 404
    trash = client.get(f"{CORE}/namespaces/default/archives?deleted=true", headers=AUTH)
    assert [r["sha512"] for r in trash.get_json()] == [sha512(ARCHIVES[1])]


def test_export_to_stdout(deployment):
    result = run(deployment, "export", "-")

    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert json.loads(out[0])["format"] == "stashd-backup"
    assert json.loads(out[-1])["kind"] == "end"
    assert "exported" in result.stderr


def test_import_fail_mode_imports_nothing_when_records_exist(deployment, tmp_path):
    file = tmp_path / "backup.jsonl"
    assert run(deployment, "export", str(file)).exit_code == 0
    runner, stashes = deployment.extensions["client"], deployment.extensions["stashes"]
    runner.run(stashes.delete("bulk/00001"))
    runner.run(stashes.put("bulk/00002", b'{"kept":true}', None))

    result = run(deployment, "import", str(file))

    assert result.exit_code == 1
    assert "records exist already and nothing was imported" in result.output
    assert "stash 'bulk/00000'" in result.output
    assert runner.run(stashes.get("bulk/00001")) is None
    assert runner.run(stashes.get("bulk/00002")) == b'{"kept":true}'


def test_import_skip_keeps_and_replace_overwrites(deployment, tmp_path):
    file = tmp_path / "backup.jsonl"
    assert run(deployment, "export", str(file)).exit_code == 0
    runner, stashes = deployment.extensions["client"], deployment.extensions["stashes"]
    runner.run(stashes.delete("bulk/00001"))
    runner.run(stashes.put("bulk/00002", b'{"kept":true}', None))

    skipped = run(deployment, "import", "--on-conflict", "skip", str(file))

    assert skipped.exit_code == 0, skipped.output
    assert "imported 3 records: 2 namespace, 1 stash" in skipped.output
    assert runner.run(stashes.get("bulk/00001")) == b'{"n":1}'
    assert runner.run(stashes.get("bulk/00002")) == b'{"kept":true}'

    replaced = run(deployment, "import", "--on-conflict", "replace", str(file))

    assert replaced.exit_code == 0, replaced.output
    assert runner.run(stashes.get("bulk/00002")) == b'{"n":2}'
    assert "skipped 0 existing" in replaced.output


def test_import_reports_invalid_records_and_imports_the_rest(app, tmp_path):
    file = tmp_path / "backup.jsonl"
    good = {"kind": "stash", "path": "ok", "ttl_ms": None, "content": {}}
    rows = [
        {"format": "stashd-backup", "version": 1, "created": 0},
        good,
        {"kind": "stash", "path": "", "content": {}},
        {"kind": "stash", "path": "x", "content": [1]},
        {"kind": "stash", "path": "y", "content": {}, "ttl_ms": -5},
        {"kind": "asset", "namespace": "nope", "name": "a", "asset": {}},
        {"kind": "archive-from-the-future"},
        {"kind": "namespace", "name": "{bad}"},
        {"kind": "apikey", "digest": "ee" * 32, "username": "nobody",
         "created_by": "", "created_at": 1},
        {"kind": "end", "records": 8},
    ]  # fmt: skip
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")

    result = run(app, "import", "--on-conflict", "skip", str(file))

    assert result.exit_code == 1
    assert "line 3: 'path' is empty" in result.output
    assert "line 4: 'content' is missing or not a JSON object" in result.output
    assert "line 5: 'ttl_ms' must be positive or null" in result.output
    assert "line 6: the asset's metadata names another asset" in result.output
    assert "line 7: unknown kind of record 'archive-from-the-future'" in result.output
    assert "line 8: namespace name may only contain" in result.output
    assert "line 9: API key eeeeeeeeeeee... of user 'nobody' not stored" in (
        result.output
    )
    assert "line 11: records after the end line" in result.output
    runner = app.extensions["client"]
    assert runner.run(app.extensions["stashes"].get("ok")) == b"{}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "line 1: the file is empty"),
        ('{"kind": "stash"}\n', "line 1: not a stashd backup"),
        (
            '{"format": "stashd-backup", "version": 2}\n',
            "backup format version 2 is newer than this stashd's (1)",
        ),
        (
            '{"format": "stashd-backup", "version": 1}\n'
            '{"kind": "namespace", "name": "cut"}\n',
            "the file has no end line: it was cut off",
        ),
        (
            '{"format": "stashd-backup", "version": 1}\n'
            '{"kind": "end", "records": 3}\n',
            "the end line counts 3 records, the file holds 0",
        ),
    ],
)
def test_import_refuses_what_is_not_a_whole_backup(app, tmp_path, content, message):
    file = tmp_path / "backup.jsonl"
    file.write_text(content)

    result = run(app, "import", "--on-conflict", "replace", str(file))

    assert result.exit_code == 1
    assert message in result.output


def test_import_from_stdin(deployment, tmp_path):
    file = tmp_path / "backup.jsonl"
    assert run(deployment, "export", str(file)).exit_code == 0
    wipe(deployment)

    result = deployment.test_cli_runner().invoke(
        args=["import", "--on-conflict", "replace", "-"], input=file.read_bytes()
    )

    assert result.exit_code == 0, result.output
    assert len(snapshot(deployment)["stashes"]) == STASHES + 1


def test_failed_export_leaves_no_file(app, tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    file = tmp_path / "out" / "backup.jsonl"

    def broken(emit):
        raise RuntimeError("redis went away")
        yield

    monkeypatch.setattr(app.extensions["backup"][3], "dump", broken)
    result = run(app, "export", str(file))

    assert result.exit_code == 1
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.integration
def test_export_and_import_hold_one_batch_at_a_time(redis_server, real_redis, tmp_path):
    """20 MB of stashes go out and back in with a few MB of Python memory."""
    app = create_app({"REDIS_URL": redis_server.url})
    runner, stashes = app.extensions["client"], app.extensions["stashes"]
    content = b'{"pad":"%s"}' % (b"x" * 2_000)
    for start in range(0, 10_000, 1_000):
        runner.run_all(
            [
                stashes.put(f"s/{i:06}", content, None)
                for i in range(start, start + 1_000)
            ]
        )
    file = tmp_path / "backup.jsonl"
    try:
        tracemalloc.start()
        assert run(app, "export", str(file)).exit_code == 0
        _, export_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        real_redis.flushall()
        result = run(app, "import", str(file))
        _, import_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        runner.close()
        app.extensions["redis"].close()

    assert result.exit_code == 0, result.output
    assert "imported 10000 records" in result.output
    assert file.stat().st_size > 20_000_000
    assert export_peak < 8_000_000, export_peak
    assert import_peak < 8_000_000, import_peak


@pytest.mark.integration
def test_run_all_loads_scripts_redis_lacks(redis_server, real_redis):
    app = create_app({"REDIS_URL": redis_server.url})
    runner, stashes = app.extensions["client"], app.extensions["stashes"]
    try:
        real_redis.script_flush()
        calls = [stashes.put(f"p{i}", b"{}", None) for i in range(3)]
        assert runner.run_all([*calls, stashes.exists("p1")]) == [1, 1, 1, True]
        with pytest.raises(redis.ResponseError):
            runner.run_all([stashes.exists("p1"), Call(("NOSUCHCOMMAND",))])
        assert runner.run(stashes.exists("p2")) is True  # the connection goes on
    finally:
        runner.close()
        app.extensions["redis"].close()


def test_redis_down_is_one_line_not_a_traceback(tmp_path):
    with socket.socket() as sock:  # a Redis port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    file = tmp_path / "backup.jsonl"
    try:
        result = run(app, "export", str(file))
    finally:
        app.extensions["redis"].close()

    assert result.exit_code == 1
    assert "Error: redis: " in result.output
    assert "Traceback" not in result.output
    assert not file.exists()


def test_round_trip_keeps_scan_verdicts_and_shares(app, client, tmp_path):
    """Verdicts come back with their records (clean served without a scan,
    infected never served), unscanned bytes are queued again, and shares open
    their archive as before (spec archives.md 10, 11)."""
    judged = {"clean": tarball({"bin/a": b"a\n"}), "infected": tarball({"bin/b": b"b"})}
    for name, data in judged.items():
        use(app, tmp_path, name)
        assert upload(client, data, filename=f"{name}.tgz").status_code == 201
        assert work(app) == 1
    waiting = tarball({"bin/c": b"c\n"})
    assert upload(client, waiting, filename="waiting.tgz").status_code == 201
    use(app, tmp_path, "clean")
    clean = f"{CORE}/namespaces/default/archives/{sha512(judged['clean'])}"
    made = client.post(clean + "/shares", json={"note": "lab"}, headers=AUTH)
    assert made.status_code == 201, made.data
    token = made.get_json()["token"]
    urls = [
        clean,
        f"{CORE}/namespaces/default/archives/{sha512(judged['infected'])}",
        f"{CORE}/namespaces/default/archives/{sha512(waiting)}",
        clean + "/shares",
    ]
    before = [client.get(url, headers=AUTH).get_json() for url in urls]
    assert [r["state"] for r in before[:3]] == ["clean", "infected", "unscanned"]
    file = tmp_path / "backup.jsonl"
    result = run(app, "export", str(file))
    assert result.exit_code == 0, result.output
    shares = [r for r in lines(file) if r.get("kind") == "share"]
    assert len(shares) == 1 and shares[0]["digest"] != token.partition(".")[2]
    wipe(app)
    result = run(app, "import", str(file))
    assert result.exit_code == 0, result.output
    assert "1 share" in result.output
    scans = runs(tmp_path)
    assert [client.get(url, headers=AUTH).get_json() for url in urls] == before
    served = client.get(f"/archives/default/{sha512(judged['clean'])}", headers=AUTH)
    assert served.status_code == 200 and served.get_data() == judged["clean"]
    served.close()
    shared = client.get(
        f"/archives/default/{sha512(judged['clean'])}", query_string={"token": token}
    )
    assert shared.status_code == 200
    shared.close()
    infected = client.get(
        f"/archives/default/{sha512(judged['infected'])}", headers=AUTH
    )
    assert infected.status_code == 404
    infected.close()
    assert work(app) == 1  # only the unscanned one
    assert runs(tmp_path) == scans + 1
    assert client.get(urls[2], headers=AUTH).get_json()["state"] == "clean"


def test_a_verdict_made_here_wins_over_the_backups(app, client, tmp_path):
    data = tarball({"bin/a": b"a\n"})
    use(app, tmp_path, "clean")
    upload(client, data)
    assert work(app) == 1
    file = tmp_path / "backup.jsonl"
    assert run(app, "export", str(file)).exit_code == 0
    wipe(app)
    scans, runner = app.extensions["scans"], app.extensions["client"]
    runner.run(scans.ensure(sha512(data), int(time.time()), queue=True))
    runner.run(scans.finish(sha512(data), Verdict(1, "infected", 1, "found")))
    result = run(app, "import", str(file))
    assert result.exit_code == 0, result.output
    url = f"{CORE}/namespaces/default/archives/{sha512(data)}"
    record = client.get(url, headers=AUTH).get_json()
    assert record["state"] == "infected" and record["scan"]["detail"] == "found"
