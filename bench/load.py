"""The load: request files, wrk and ApacheBench runs, and a check before them.

A request file has one request per line (``METHOD<tab>URL[<tab>body]``); wrk picks
lines at random, or sends them in order once each (``sequence``, for DELETE).

HEAD is the one case wrk cannot do: its response parser does not know which method
a response answers, so it waits for the body a HEAD response's Content-Length
announces and never gets (wg/wrk issue 198). HEAD goes through ApacheBench (``ab``,
Debian's apache2-utils, in C like wrk, which kept up with wrk on GET here) instead,
on one URL per run, since ab takes only one.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk.lua")
# wrk's own limit on one request's wait; a slower answer counts as an error.
REQUEST_TIMEOUT = "5s"
# Requests per second ab makes room for: more than any server here answers.
AB_MAX_RATE = 200_000


class Request(NamedTuple):
    method: str
    url: str
    body: str = ""


def write_requests(path: str, requests: Iterable[Request]) -> str:
    """Write a request file for bench/wrk.lua and return its path."""
    with open(path, "w") as file:
        for method, url, body in requests:
            assert "\t" not in url + body and "\n" not in url + body
            file.write(f"{method}\t{url}\t{body}\n" if body else f"{method}\t{url}\n")
    return path


def read_requests(path: str) -> list[Request]:
    with open(path) as file:
        return [Request(*line.rstrip("\n").split("\t")) for line in file]


@dataclass
class Run:
    """The figures of one run: bench/wrk.lua's done() line, or ab's report."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connect, read and write errors, and timeouts
    non_2xx: int  # answers with a status of 400 or more (wrk's "status" errors)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str,
    requests: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 1,
    headers: Iterable[str] = (),
    order: str = "random",
) -> Run:
    """Run wrk against `url` with the request file `requests`; bounded in time.

    :raise RuntimeError: wrk failed or printed no figures.
    """
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--timeout", REQUEST_TIMEOUT, "-s", LUA]
    for header in headers:
        argv += ["-H", header]
    argv += [url, "--", requests, order, str(threads)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise RuntimeError(
            f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return Run(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=sum(
            figures[kind]
            for kind in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
        non_2xx=figures["non_2xx_3xx"],
    )


def ab(
    url: str,
    request: Request,
    *,
    connections: int,
    seconds: int,
    headers: Iterable[str] = (),
    workdir: str,
) -> Run:
    """Run ApacheBench with keep-alive: `request` (GET or HEAD, no body) at `url`.

    :raise RuntimeError: ab failed or printed no figures.
    """
    if request.method not in ("GET", "HEAD") or request.body:
        raise ValueError(f"ab runs only GET or HEAD without a body, not {request}")
    percentiles = os.path.join(workdir, "ab-percentiles.csv")
    argv = ["ab", "-q", "-k", "-c", str(connections), "-t", str(seconds)]
    # -t alone stops after 50,000 requests, and ab keeps 32 bytes per request it
    # may send; -s is its wait for one answer.
    argv += ["-n", str(seconds * AB_MAX_RATE), "-s", "5", "-e", percentiles]
    if request.method == "HEAD":
        argv.append("-i")
    for header in headers:
        argv += ["-H", header]
    argv.append(url + request.url)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)

    def field(name: str, default: str | None = None) -> str:
        found = re.search(rf"^{name}:\s+([\d.]+)", done.stdout, re.MULTILINE)
        if found:
            return found.group(1)
        if default is None:
            raise RuntimeError(
                f"ab failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return default

    requests = int(field("Complete requests"))
    with open(percentiles) as file:
        rows = csv.reader(file)
        next(rows)  # "Percentage served,Time in ms"
        by_percent = {percent: float(ms) for percent, ms in rows}
    return Run(
        requests=requests,
        seconds=float(field("Time taken for tests")),
        p50_ms=by_percent["50"],
        p99_ms=by_percent["99"],
        errors=int(field("Failed requests")),
        non_2xx=int(field("Non-2xx responses", "0")),
    )


def check(url: str, requests: str, headers: Iterable[str] = ()) -> None:
    """Send the first request of each method in the file once; each must get a 2xx.

    wrk counts only statuses of 400 and up; this also catches a redirect, or a
    server that answers but not as the case expects.

    :raise RuntimeError: naming the request and what it got.
    """
    host, _, port = url.removeprefix("http://").partition(":")
    fields = dict(header.split(": ", 1) for header in headers)
    first = {}
    for request in read_requests(requests):
        first.setdefault(request.method, request)
    for method, target, body in first.values():
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            sent = {**fields, "Content-Type": "application/json"} if body else fields
            conn.request(method, target, body=body or None, headers=sent)
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        if not 200 <= response.status < 300:
            raise RuntimeError(f"{method} {url}{target} answered {response.status}")
