"""Bundles (spec archives.md 13, 16): export assets with their archives as one
tar, import it into another namespace checked whole; any damage refuses it all."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from archives import service
from archives.bundles import FORMAT, MANIFEST, MANIFEST_DIGEST
from tests.archives.helpers import sha512, tarball, temp_files, upload
from tests.sensugo import AUTH, CORE, assert_error, asset

FILES = [tarball({f"bin/tool{i}": bytes([i]) * 5000 * (i + 1)}) for i in range(3)]
IDS = [sha512(f) for f in FILES]


def export(client, ns="default", **query):
    url = f"{CORE}/namespaces/{ns}/bundle"
    return client.get(url, headers=AUTH, query_string=query)


def import_(client, data, ns="elsewhere", **query):
    url = f"{CORE}/namespaces/{ns}/bundle"
    return client.post(url, data=data, headers=AUTH, query_string=query)


def members(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]


def rebuild(items: list[tuple[str, bytes]]) -> bytes:
    """A bundle of `items`, the manifest's digest made anew (as a careful forger
    would): what the archives' own digests and sizes must then catch."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if name == MANIFEST:
                info.pax_headers = {MANIFEST_DIGEST: hashlib.sha256(data).hexdigest()}
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(i: int, os_name: str) -> dict:
    return {
        "url": f"https://example.com/tool{i}.tar.gz",
        "sha512": IDS[i],
        "filters": [f"entity.system.os == '{os_name}'"],
        "headers": {"Authorization": "Key secret"},
    }


@pytest.fixture
def seeded(client, sensu):
    for i, data in enumerate(FILES):
        assert upload(client, data, filename=f"tool{i}.tar.gz").status_code == 201
    a = asset("a", builds=[build(0, "linux"), build(1, "windows")])
    b = asset("b", builds=[build(1, "linux")])
    a.pop("url"), a.pop("sha512"), b.pop("url"), b.pop("sha512")
    assert sensu.create(a).status_code == 201
    assert sensu.create(b).status_code == 201
    sensu.namespace("elsewhere")
    response = export(client, asset=["a", "b"])
    assert response.status_code == 200, response.data
    return response


def test_export_has_its_length_the_manifest_first_one_member_per_id(seeded):
    data = seeded.data
    assert seeded.headers["Content-Length"] == str(len(data))
    assert seeded.headers["Content-Type"] == "application/x-tar"
    assert seeded.headers["Content-Disposition"].startswith(
        'attachment; filename="stashd-bundle-default-'
    )
    found = members(data)
    assert found[0][0] == MANIFEST
    manifest = json.loads(found[0][1])
    assert manifest["format"] == FORMAT and manifest["missing"] == []
    assert [n for n, _ in found[1:]] == [f"archives/{IDS[0]}", f"archives/{IDS[1]}"]
    assert found[1][1] == FILES[0] and found[2][1] == FILES[1]
    assert [a["metadata"]["name"] for a in manifest["assets"]] == ["a", "b"]
    assert manifest["archives"][0]["filename"] == "tool0.tar.gz"
    assert manifest["archives"][0]["size"] == len(FILES[0])


def test_import_elsewhere_recreates_records_and_assets(client, sensu, seeded):
    response = import_(client, seeded.data)
    assert response.status_code == 201, response.data
    assert response.get_json() == {
        "archives": {"created": IDS[:2], "existing": []},
        "assets": {"created": ["a", "b"], "replaced": [], "skipped": []},
    }
    stored = sensu.stored("a", "elsewhere")
    url = f"http://localhost/archives/elsewhere/{IDS[0]}/tool0.tar.gz"
    assert stored["builds"][0]["url"] == url
    assert stored["builds"][0]["headers"] == {"Authorization": "Key secret"}
    record = client.get(
        f"{CORE}/namespaces/elsewhere/archives/{IDS[0]}", headers=AUTH
    ).get_json()
    assert record["origin"]["kind"] == "bundle"
    assert record["referenced_by"] == ["a"]
    download = client.get(url, headers=AUTH)
    assert download.data == FILES[0]
    download.close()
    again = import_(client, seeded.data, on_conflict="skip")
    assert again.get_json() == {
        "archives": {"created": [], "existing": IDS[:2]},
        "assets": {"created": [], "replaced": [], "skipped": ["a", "b"]},
    }


def test_on_conflict_fail_and_replace(client, sensu, seeded):
    assert (
        sensu.create(asset("a", namespace="elsewhere"), "elsewhere").status_code == 201
    )
    assert_error(import_(client, seeded.data), 409, 3, "asset a already exists")
    assert sensu.stored("b", "elsewhere") is None
    listed = client.get(f"{CORE}/namespaces/elsewhere/archives", headers=AUTH)
    assert listed.get_json() == []
    replaced = import_(client, seeded.data, on_conflict="replace")
    assert replaced.get_json()["assets"] == {
        "created": ["b"],
        "replaced": ["a"],
        "skipped": [],
    }
    assert sensu.stored("a", "elsewhere")["builds"][0]["sha512"] == IDS[0]


def test_rewrite_urls_false_keeps_them(client, sensu, seeded):
    assert import_(client, seeded.data, rewrite_urls="false").status_code == 201
    url = sensu.stored("a", "elsewhere")["builds"][0]["url"]
    assert url == "https://example.com/tool0.tar.gz"


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _damaged(data: bytes, how: str) -> bytes:
    found = members(data)
    manifest = json.loads(found[0][1])
    if how == "flipped byte":
        found[1] = (found[1][0], _flip(found[1][1], 100))
    elif how == "missing member":
        found.pop()
    elif how == "wrong size":
        manifest["archives"][1]["size"] += 1
        found[0] = (MANIFEST, json.dumps(manifest).encode())
    elif how == "unknown member":
        found.append(("archives/" + "0" * 128, b"x"))
    elif how == "manifest not first":
        found.append(found.pop(0))
    elif how == "unknown format":
        manifest["format"] = "stashd-bundle/9"
        found[0] = (MANIFEST, json.dumps(manifest).encode())
    elif how == "invalid asset":
        manifest["assets"][0]["metadata"]["name"] = "bad name!"
        found[0] = (MANIFEST, json.dumps(manifest).encode())
    elif how == "cut short":
        return rebuild(found)[:2000]
    return rebuild(found)


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("flipped byte", "does not match its digests"),
        ("missing member", f"member archives/{IDS[1]} is missing"),
        ("wrong size", "the manifest says"),
        ("unknown member", "is not in the manifest"),
        ("manifest not first", f"the first member must be {MANIFEST}"),
        ("unknown format", "unknown bundle format"),
        ("invalid asset", "asset bad name! is invalid"),
        ("cut short", "bundle"),
    ],
)
def test_a_damaged_bundle_is_refused_and_nothing_imported(
    app, client, sensu, seeded, how, says
):
    response = import_(client, _damaged(seeded.data, how))
    message = assert_error(response, 400, 1)
    assert says in message
    assert sensu.stored("a", "elsewhere") is None
    listed = client.get(f"{CORE}/namespaces/elsewhere/archives", headers=AUTH)
    assert listed.get_json() == []
    assert temp_files(app) == []


def test_a_flipped_byte_anywhere_is_refused(client, seeded):
    data = seeded.data
    start = data.index(b'{"format"')
    # A header, the manifest's bytes (its source URL), an archive's bytes.
    places = [
        100,
        start + data[start:].index(b"http://localhost") + 1,
        data.index(FILES[1]) + 100,
    ]
    for at in places:
        response = import_(client, _flip(data, at))
        assert response.status_code == 400, (at, response.data)
    assert import_(client, data).status_code == 201


def test_multipart_import(client, seeded):
    url = f"{CORE}/namespaces/elsewhere/bundle"
    response = client.post(
        url,
        data={"file": (io.BytesIO(seeded.data), "b.tar")},
        headers=AUTH,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.data


def test_an_asset_naming_an_archive_not_here_is_409_unless_skipped(client, sensu):
    assert upload(client, FILES[0]).status_code == 201
    body = asset("c", builds=[build(0, "linux"), build(2, "windows")])
    body.pop("url"), body.pop("sha512")
    assert sensu.create(body).status_code == 201
    message = assert_error(export(client, asset="c"), 409, 3)
    assert message == (
        f"asset c needs {IDS[2]}, which this namespace does not host; "
        "mirror it or pass missing=skip"
    )
    skipped = export(client, asset="c", missing="skip")
    manifest = json.loads(members(skipped.data)[0][1])
    assert manifest["missing"] == [IDS[2]]
    assert [a["sha512"] for a in manifest["archives"]] == [IDS[0]]


def test_selection_rules(client, sensu):
    assert_error(export(client), 400, 1)
    assert_error(export(client, asset="nope"), 404, 2)
    assert_error(export(client, archive=IDS[0]), 404, 2)
    assert upload(client, FILES[2]).status_code == 201
    every = export(client, all="true")
    assert [n for n, _ in members(every.data)] == [MANIFEST, f"archives/{IDS[2]}"]
    one = export(client, archive=IDS[2].upper())
    assert members(one.data)[1] == (f"archives/{IDS[2]}", FILES[2])


def test_bad_import_options_are_400(client):
    assert_error(import_(client, b"x", "default", on_conflict="merge"), 400, 1)
    assert_error(import_(client, b"x", "default", rewrite_urls="maybe"), 400, 1)
    assert_error(import_(client, b"not a tar at all" * 100, "default"), 400, 1)
    assert_error(import_(client, b"x"), 404, 2)


def test_a_bundle_over_the_limit_is_413(app, client, seeded):
    app.config["BUNDLE_MAX_BYTES"] = 1000
    assert_error(import_(client, seeded.data), 413, 1)


def test_the_commands_export_and_import_files(app, client, sensu, seeded, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "b.tar"
    out = runner.invoke(
        args=["archives", "bundle", "export", "default", "--asset", "a", "--asset",
              "b", "-o", str(path)]
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "2 archive(s), 2 asset(s)" in out.output
    assert [n for n, _ in members(path.read_bytes())] == [
        n for n, _ in members(seeded.data)
    ]
    damaged = tmp_path / "d.tar"
    damaged.write_bytes(_damaged(path.read_bytes(), "flipped byte"))
    args = ["archives", "bundle", "import", "elsewhere"]
    refused = runner.invoke(args=[*args, str(damaged), "--url", "https://s.example"])
    assert refused.exit_code == 1 and "does not match its digests" in refused.output
    assert sensu.stored("a", "elsewhere") is None
    no_url = runner.invoke(args=[*args, str(path)])
    assert no_url.exit_code == 1 and "--url" in no_url.output
    done = runner.invoke(args=[*args, str(path), "--url", "https://s.example/"])
    assert done.exit_code == 0, done.output
    assert "archives: 2 created, 0 existing; assets: 2 created" in done.output
    url = sensu.stored("a", "elsewhere")["builds"][0]["url"]
    assert url == f"https://s.example/archives/elsewhere/{IDS[0]}/tool0.tar.gz"
    again = runner.invoke(args=[*args, str(path), "--url", "https://s.example"])
    assert again.exit_code == 1 and "asset a already exists" in again.output
    missing = runner.invoke(args=["archives", "bundle", "export", "nope", "--all",
                                  "-o", str(path)])  # fmt: skip
    assert missing.exit_code == 1 and "namespace nope does not exist" in missing.output


@pytest.mark.parametrize("on_conflict", ["fail", "skip", "replace"])
def test_an_asset_written_during_the_import_is_decided_in_its_step(
    app, client, sensu, seeded, monkeypatch, on_conflict
):
    """An asset PUT after the import looked for conflicts and before it stores
    (while blobs go into place) is judged by on_conflict in the storing step
    itself: refused, kept, or replaced with its references (13.2)."""
    real = service.commit
    late = asset("a", "elsewhere", url="https://x/late.tgz", sha512=IDS[2])

    def racing(blobs, temp, cached=True):
        if not racing.done:
            racing.done = True
            assert sensu.put(late, namespace="elsewhere").status_code == 201
        return real(blobs, temp, cached)

    racing.done = False
    monkeypatch.setattr(service, "commit", racing)
    response = import_(client, seeded.data, on_conflict=on_conflict)
    stored = sensu.stored("a", "elsewhere")
    run, archives = app.extensions["client"].run, app.extensions["archives"]
    late_refs = run(archives.refs("elsewhere", IDS[2]))
    if on_conflict == "fail":
        assert_error(response, 409, 3, "asset a already exists")
        assert stored["url"] == "https://x/late.tgz" and late_refs == ["a"]
        listed = client.get(f"{CORE}/namespaces/elsewhere/archives", headers=AUTH)
        assert listed.get_json() == [] and sensu.stored("b", "elsewhere") is None
        return
    assert response.status_code == 201, response.data
    assets = response.get_json()["assets"]
    if on_conflict == "skip":
        assert assets == {"created": ["b"], "replaced": [], "skipped": ["a"]}
        assert stored["url"] == "https://x/late.tgz" and late_refs == ["a"]
    else:
        assert assets == {"created": ["b"], "replaced": ["a"], "skipped": []}
        assert stored["builds"][0]["sha512"] == IDS[0] and late_refs == []
        assert run(archives.refs("elsewhere", IDS[0])) == ["a"]
