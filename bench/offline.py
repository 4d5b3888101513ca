"""``python -m bench.offline``: the offline paths of archive hosting, timed.

- Bundles (spec archives.md 13): export of `--count` archives of `--mib` MiB each
  from one stashd, and import into a second one (its own Redis and data directory:
  the far side of the air gap), beside ``tar -cf`` and ``tar -xf`` of the same files.
- Pull-through (12.2): a `--big-mib` MiB archive served by a loopback upstream
  (Python's threaded http.server), mirrored ``lazy`` and downloaded once (the
  download waits for the fetch and verification), beside the same file downloaded
  straight from the upstream and from stashd once it holds it.

Everything binds to 127.0.0.1 and runs in a temporary directory; each transfer has a
timeout. Medians of `--reps` repetitions; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import io
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import requests

from bench.servers import Redis, Server, make_server, stashd_env

CORE = "/api/core/v2"
KEY = "bench-offline-key-0123456789"
AUTH = {"Authorization": f"Key {KEY}"}
MIB = 1024 * 1024
TIMEOUT = 600  # seconds, for any one transfer


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.offline",
        description="bundle export/import beside tar, and a pull-through beside a "
        "direct download (docs/benchmarks.md)",
    )
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--count", type=int, default=10, help="archives in the bundle")
    parser.add_argument("--mib", type=int, default=10, help="MiB per bundled archive")
    parser.add_argument("--big-mib", type=int, default=100, help="MiB pulled through")
    return parser.parse_args(argv)


def archive(path: str, mib: int) -> str:
    """A plain tar at `path` holding `mib` MiB of random bytes as bin/data; its id."""
    data = os.urandom(mib * MIB - 3 * 512)
    info = tarfile.TarInfo("bin/data")
    info.size = len(data)
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha512()
    with open(path, "rb") as file:
        while chunk := file.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def stashd(kind: str, workdir: str, **settings: str) -> Iterator[Server]:
    """stashd under `kind` on a Redis of its own, with `settings`."""
    os.makedirs(workdir)
    redis = Redis(workdir)
    redis.start()
    env = stashd_env(
        redis.url,
        STASHD_DATA_DIR=os.path.join(workdir, "data"),
        STASHD_API_USER="bench",
        STASHD_API_PASSWORD="bench-offline",
        STASHD_API_KEY=KEY,
        STASHD_ARCHIVE_GC_INTERVAL_SECONDS="0",
        STASHD_ARCHIVE_RETENTION_SECONDS="0",
        STASHD_ARCHIVE_BLOB_GRACE_SECONDS="0",
        STASHD_ARCHIVE_MAX_BYTES=str(512 * MIB),
        STASHD_MIRROR_ALLOWED_HOSTS="127.0.0.1",
        no_proxy="127.0.0.1",
        NO_PROXY="127.0.0.1",
        **settings,
    )
    server = make_server(kind, env, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        redis.stop()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def ok(response: requests.Response, *statuses: int) -> requests.Response:
    if response.status_code not in statuses:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return response


def save(url: str, path: str | None) -> int:
    """GET `url` to `path` (or nowhere); the bytes read."""
    total = 0
    with requests.get(url, headers=AUTH, stream=True, timeout=TIMEOUT) as got:
        ok(got, 200)
        with open(path or os.devnull, "wb") as out:
            for chunk in got.iter_content(MIB):
                out.write(chunk)
                total += len(chunk)
    return total


def post_ok(url: str, path: str) -> requests.Response:
    """POST the file at `path` as the body; it must be answered 201."""
    with open(path, "rb") as body:
        return ok(requests.post(url, data=body, headers=AUTH, timeout=TIMEOUT), 201)


def empty_namespace(server: Server, ns: str) -> None:
    """Purge every record of `ns` and collect the blobs, for a fresh import."""
    listed = ok(
        requests.get(f"{server.url}{CORE}/namespaces/{ns}/archives", headers=AUTH), 200
    )
    for record in listed.json():
        url = f"{server.url}{CORE}/namespaces/{ns}/archives/{record['sha512']}"
        params = {"purge": "true", "force": "true"}
        ok(requests.delete(url, headers=AUTH, params=params), 204)
    ok(requests.post(f"{server.url}{CORE}/archives/gc", headers=AUTH), 200)


def bench_bundles(args: argparse.Namespace, work: str, stack: ExitStack) -> dict:
    files = os.path.join(work, "files")
    os.makedirs(files)
    source = stack.enter_context(stashd(args.server, os.path.join(work, "near")))
    far = stack.enter_context(stashd(args.server, os.path.join(work, "far")))
    for i in range(args.count):
        path = os.path.join(files, f"tool{i}.tar")
        archive(path, args.mib)
        url = f"{source.url}{CORE}/namespaces/default/archives"
        with open(path, "rb") as body:
            response = requests.post(
                url,
                data=body,
                headers=AUTH,
                params={"asset": f"tool{i}", "filename": f"tool{i}.tar"},
                timeout=TIMEOUT,
            )
        ok(response, 201)
    bundle = os.path.join(work, "bundle.tar")
    plain = os.path.join(work, "plain.tar")
    export_url = f"{source.url}{CORE}/namespaces/default/bundle?all=true"
    import_url = f"{far.url}{CORE}/namespaces/default/bundle?on_conflict=replace"
    times: dict[str, list[float]] = {
        k: [] for k in ("export", "import", "tar -c", "tar -x")
    }
    dest = os.path.join(work, "untar")
    create = ["tar", "-cf", plain, "-C", files, "."]
    extract = ["tar", "-xf", plain, "-C", dest]
    for _ in range(args.reps):
        times["export"].append(timed(functools.partial(save, export_url, bundle)))
        empty_namespace(far, "default")
        times["import"].append(timed(functools.partial(post_ok, import_url, bundle)))
        times["tar -c"].append(
            timed(functools.partial(subprocess.run, create, check=True))
        )
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        times["tar -x"].append(
            timed(functools.partial(subprocess.run, extract, check=True))
        )
    sizes = {"bundle": os.path.getsize(bundle), "tar": os.path.getsize(plain)}
    shutil.rmtree(files)
    return {"times": times, "sizes": sizes}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def upstream(directory: str) -> Iterator[str]:
    """A loopback HTTP server of `directory`; its base URL."""
    handler = functools.partial(_Quiet, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def bench_pull_through(args: argparse.Namespace, work: str, stack: ExitStack) -> dict:
    served = os.path.join(work, "upstream")
    os.makedirs(served)
    origin = stack.enter_context(upstream(served))
    server = stack.enter_context(stashd(args.server, os.path.join(work, "mirror")))
    times: dict[str, list[float]] = {
        k: [] for k in ("upstream", "pull-through", "stashd")
    }
    for rep in range(args.reps):
        name = f"big{rep}.tar"
        path = os.path.join(served, name)
        archive_id = archive(path, args.big_mib)
        direct = functools.partial(save, f"{origin}/{name}", None)
        times["upstream"].append(timed(direct))
        body = {"url": f"{origin}/{name}", "sha512": archive_id, "fetch": "lazy"}
        url = f"{server.url}{CORE}/namespaces/default/archives/mirror"
        ok(requests.post(url, json=body, headers=AUTH, timeout=TIMEOUT), 202)
        download = f"{server.url}/archives/default/{archive_id}/{name}"
        fetch = functools.partial(save, download, None)
        times["pull-through"].append(timed(fetch))
        times["stashd"].append(timed(fetch))
        os.unlink(path)
    return {"times": times}


def table(times: dict[str, list[float]], mib: float) -> str:
    lines = ["| what | median s | MiB/s | each s |", "| --- | ---: | ---: | --- |"]
    for name, values in times.items():
        median = statistics.median(values)
        each = ", ".join(f"{v:.2f}" for v in values)
        lines.append(f"| {name} | {median:.2f} | {mib / median:.0f} | {each} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="stashd-bench-offline-") as work:
        with ExitStack() as stack:
            bundles = bench_bundles(args, work, stack)
        with ExitStack() as stack:
            pulled = bench_pull_through(args, work, stack)
    total = args.count * args.mib
    print(f"## Bundles: {args.count} archives of {args.mib} MiB ({args.server})\n")
    print(table(bundles["times"], total))
    sizes = bundles["sizes"]
    print(f"\nbundle {sizes['bundle']:,} bytes, plain tar {sizes['tar']:,} bytes\n")
    print(f"## Pull-through of {args.big_mib} MiB ({args.server})\n")
    print(table(pulled["times"], args.big_mib))
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
