"""rediss:// options reach every Redis client stashd uses (spec stashes.md 17.13).

A Redis with TLS on, a private CA and a client certificate (tests/redisio/tls.py):
what the URL says about certificates must hold for redis-py's client, the
BlockingClient and the PipelinedClient alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from redisio.clients import BlockingClient, make_client
from redisio.pipelined import PipelinedClient
from tests.redisio.tls import TlsRedis, tls_redis

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsRedis]:
    yield from tls_redis()


def config(url: str) -> dict:
    return {"REDIS_URL": url, "REDIS_TIMEOUT": 2.0}


def with_redis_py(url: str):
    client = make_client(config(url))
    try:
        return client.execute_command("ECHO", "redis-py")
    finally:
        client.close()


def with_blocking(url: str):
    client = make_client(config(url))
    runner = BlockingClient(client)
    try:
        return runner.execute("ECHO", "blocking")
    finally:
        runner.close()
        client.close()


def with_pipelined(url: str):
    client = PipelinedClient(config(url))

    async def main():
        try:
            return await client.execute("ECHO", "pipelined")
        finally:
            client.close()

    return asyncio.run(main())


CLIENTS = {
    "redis-py": with_redis_py,
    "blocking": with_blocking,
    "pipelined": with_pipelined,
}


@pytest.fixture(params=list(CLIENTS))
def echo(request):
    """echo(url): one command over the URL with one client; returns its reply."""
    return CLIENTS[request.param]


def test_a_private_ca_and_a_client_certificate(tls, echo):
    assert echo(tls.url(**tls.trusting())) in (b"redis-py", b"blocking", b"pipelined")


def test_a_server_the_ca_does_not_vouch_for_is_refused(tls, echo):
    options = tls.trusting()
    del options["ssl_ca_certs"]  # the system's CAs know nothing of this one
    with pytest.raises(redis.ConnectionError):
        echo(tls.url(**options))


def test_ssl_cert_reqs_none_skips_the_check(tls, echo):
    options = tls.trusting(ssl_cert_reqs="none")
    del options["ssl_ca_certs"]
    assert echo(tls.url(**options))


def test_a_client_without_its_certificate_is_refused(tls, echo):
    with pytest.raises(redis.ConnectionError):
        echo(tls.url(ssl_ca_certs=tls.ca))


def test_host_names_are_checked_unless_ssl_check_hostname_is_false(tls, echo):
    # The server's certificate names 127.0.0.1, not localhost.
    with pytest.raises(redis.ConnectionError):
        echo(tls.url("localhost", **tls.trusting()))
    assert echo(tls.url("localhost", **tls.trusting(ssl_check_hostname="false")))
