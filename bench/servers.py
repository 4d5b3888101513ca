"""The servers under test, each started the way it is deployed, on 127.0.0.1 only.

- ``redis``: the private Redis all of them share (the valkey-server binary that
  ``make run`` embeds, set up like the embedded one), on a Unix socket;
  ``BENCH_REDIS_SERVER=<path>`` runs another binary instead, to compare them.
- ``webdis``: the Debian package, the C reference.
- ``nginx``: the Debian package, serving the archive cases' files from disk: the C
  reference for downloads.
- ``granian``: stashd as ``make run`` ships it (``python -m server``);
  ``gunicorn``: stashd under ``gunicorn -c gunicorn.conf.py``.
- ``bare-granian``, ``bare-gunicorn``: the bare WSGI function (bench/bare.py) under
  the same two servers with the same settings: granian with ``serve.granian_defaults``
  for its WSGI interface, gunicorn with ``gunicorn.conf.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import sys

import redis

from bench.procs import Process, free_port
from server.embedded import executable
from server.serve import granian_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
# Another Redis server binary for one run, e.g. the one stashd embedded before.
REDIS_BINARY_VARIABLE = "BENCH_REDIS_SERVER"
# Settings a developer may have exported that would change what is measured.
_OPERATOR_ONLY = ("STASHD_", "GRANIAN_", "GUNICORN_", "WEB_CONCURRENCY")


def redis_binary() -> str:
    """The Redis server under test: the embedded one unless BENCH_REDIS_SERVER says."""
    return os.environ.get(REDIS_BINARY_VARIABLE) or executable()


class Redis:
    """The private Redis server: persistent like the embedded one, in `workdir`."""

    def __init__(self, workdir: str) -> None:
        self.socket = os.path.join(workdir, "redis.sock")
        args = [
            redis_binary(),
            "--port", "0",
            "--unixsocket", self.socket,
            "--unixsocketperm", "700",
            "--dir", workdir,
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            # The one difference from the embedded Redis: no background AOF rewrite,
            # whose fork and disk writes would land in some runs and not others.
            "--auto-aof-rewrite-percentage", "0",
        ]  # fmt: skip
        self.process = Process("redis-server", args, os.path.join(workdir, "redis.log"))
        self.url = f"unix://{self.socket}"

        # For the benchmark's own commands: settings, checks, memory figures.
        self.admin = redis.Redis(unix_socket_path=self.socket, socket_timeout=60)

    def start(self) -> None:
        self.process.start()

        def answers() -> bool:
            try:
                return self.admin.ping()
            except redis.RedisError:
                return False

        self.process.wait_until(answers, timeout=30)

    def stop(self) -> None:
        self.admin.close()
        self.process.stop()


class Server:
    """An HTTP server under test: its process tree is what its CPU time counts."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        workdir: str,
        env: dict[str, str] | None = None,
        ready_path: str = "/health",
        root: str = ROOT,
    ) -> None:
        """`root`: the checkout the server runs from (another one's, for bench.ab)."""
        self.name = name
        self.port = port
        self.ready_path = ready_path
        log = os.path.join(workdir, f"{name}.log")
        self.process = Process(name, argv, log, env=env, cwd=root)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        self.process.wait_until(self._answers, timeout=60)

    def _answers(self) -> bool:
        """True when the server answers HTTP at all."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", self.ready_path)
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.stop()


def stashd_env(redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server under test: shipped defaults plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OPERATOR_ONLY)}
    env["STASHD_BIND"] = f"127.0.0.1:{free_port()}"
    env["STASHD_REDIS_URL"] = redis_url
    env.update(settings)
    return env


def make_server(kind: str, env: dict[str, str], workdir: str) -> Server:
    """A server of `kind` (see the module docstring) with `env`; not yet started."""
    host, _, port = env["STASHD_BIND"].rpartition(":")
    if kind == "granian":
        argv = [sys.executable, "-m", "server"]
    elif kind == "gunicorn":
        argv = [GUNICORN, "-c", "gunicorn.conf.py"]
    elif kind == "bare-granian":
        argv = [sys.executable, "-m", "granian", "bench.bare:app"]
        argv += ["--host", host, "--port", port]
        # As server/serve.py does it, with its WSGI settings (the function is WSGI): its
        # defaults where the environment sets nothing.
        env = {**granian_defaults({**env, "GRANIAN_INTERFACE": "wsgi"}), **env}
    elif kind == "bare-gunicorn":
        argv = [GUNICORN, "-c", "gunicorn.conf.py", "bench.bare:app"]
    else:
        raise ValueError(f"unknown server kind {kind!r}")
    return Server(kind, argv, int(port), workdir, env)


def webdis(redis_socket: str, workdir: str) -> Server:
    """webdis from Debian over the private Redis, with its packaged defaults."""
    port = free_port()
    config = {
        "redis_host": redis_socket,
        "redis_port": 0,
        "http_host": "127.0.0.1",
        "http_port": port,
        "threads": 2,
        "daemonize": False,
        "database": 0,
        "verbosity": 1,
        "logfile": os.path.join(workdir, "webdis.log"),
    }
    path = os.path.join(workdir, "webdis.json")
    with open(path, "w") as file:
        json.dump(config, file)
    return Server("webdis", ["webdis", path], port, workdir, ready_path="/PING")


def nginx(root: str, workdir: str) -> Server:
    """nginx from Debian serving the files under `root`, as a static file server is
    set up for big files: sendfile, 2 workers (one per core), no access log."""
    port = free_port()
    config = f"""
daemon off;
master_process on;
worker_processes 2;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx.log warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/x-tar;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""
    path = os.path.join(workdir, "nginx.conf")
    with open(path, "w") as file:
        file.write(config)
    log = os.path.join(workdir, "nginx.log")
    argv = ["nginx", "-c", path, "-p", workdir, "-e", log]
    return Server("nginx", argv, port, workdir, ready_path="/")
