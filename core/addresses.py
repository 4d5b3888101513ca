"""The settings that name places, parsed: where Redis is (``REDIS_URL`` in each of its
forms), the addresses to serve on (``BIND``), the proxies trusted to name the client
(``TRUSTED_PROXIES``) and the web origins whose browser writes are accepted
(``ALLOWED_ORIGINS``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from core.config_error import ENV_PREFIX, ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DEFAULT_PORTS = {"http": 80, "https": 443}

RedisMode = Literal["standalone", "sentinel", "cluster"]

# Ports assumed for nodes named without one, by mode.
_REDIS_PORTS = {"sentinel": 26379, "cluster": 6379}


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is, read from ``REDIS_URL``.

    `node_url` is a ``redis://`` or ``rediss://`` URL carrying what every data node
    is reached with (credentials, db, ``ssl_*`` options); its host is a placeholder
    in the sentinel and cluster modes, where `nodes` are the sentinels or the seeds.
    """

    mode: RedisMode
    node_url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str | None = None


def redis_target(url: str) -> RedisTarget:
    """Read ``REDIS_URL``: ``redis://``, ``rediss://``, ``unix://`` (one Redis), or
    ``redis[s]+sentinel://[[user]:password@]host:port[,...]/<service>[/<db>]`` and
    ``redis[s]+cluster://[[user]:password@]host:port[,...]``.

    :raise ConfigError: a URL of none of these forms.
    """
    if not isinstance(url, str):
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL must be a string")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if sep and scheme in ("redis", "rediss", "unix"):
        return RedisTarget("standalone", url)
    base, _, mode = scheme.partition("+")
    if not sep or base not in ("redis", "rediss") or mode not in _REDIS_PORTS:
        raise ConfigError(
            f"{ENV_PREFIX}REDIS_URL must start redis://, rediss://, unix://, "
            f"redis+sentinel://, rediss+sentinel://, redis+cluster:// or "
            f"rediss+cluster://, not {url.partition('://')[0]!r}"
        )
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    nodes = tuple(_node(item, _REDIS_PORTS[mode]) for item in hosts.split(",") if item)
    if not nodes:
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL names no host:port")
    parts = path.split("/") if path else []
    service = None
    if mode == "sentinel":
        if not parts or not parts[0]:
            raise ConfigError(
                f"{ENV_PREFIX}REDIS_URL must name the Sentinel service: "
                "redis+sentinel://host:port/<service name>"
            )
        service, parts = parts[0], parts[1:]
    db = parts[0] if parts and parts[0] else "0"
    if len(parts) > 1 or not (db.isascii() and db.isdigit()):
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL: {path!r} is not a valid path")
    if mode == "cluster" and db != "0":
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL: Redis Cluster has database 0 only")
    host, port = nodes[0]
    host = f"[{host}]" if ":" in host else host
    node_url = f"{base}://{userinfo}{at}{host}:{port}/{db}"
    if query:
        node_url += "?" + query
    return RedisTarget(mode, node_url, nodes, service)  # type: ignore[arg-type]


def _node(item: str, default_port: int) -> tuple[str, int]:
    """One ``host[:port]`` of a sentinel or cluster URL (``[::1]:port`` for IPv6)."""
    if item.startswith("["):
        host, _, tail = item[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else tail
    elif item.count(":") == 1:
        host, _, port = item.partition(":")
    else:
        host, port = item, ""
    if not port:
        port = str(default_port)
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL: {item!r} is not host:port")
    return host, int(port)


def origin_key(origin: str) -> str | None:
    """A web origin (``https://Host:443``) in one spelling (``https://host``), to
    compare; None when it is not an http(s) origin (``null`` included)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if (
        scheme not in _DEFAULT_PORTS
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allowed_origins(text: object) -> frozenset[str]:
    """The ALLOWED_ORIGINS setting (space separated) as `origin_key`s.

    :raise ConfigError: an item that is not scheme://host[:port] (http or https).
    """
    if not isinstance(text, str):
        raise ConfigError(f"{ENV_PREFIX}ALLOWED_ORIGINS must be a string")
    keys = set()
    for item in text.split():
        key = origin_key(item)
        if key is None:
            raise ConfigError(
                f"{ENV_PREFIX}ALLOWED_ORIGINS: {item!r} is not an origin such as "
                "https://dashboard.example.com:8443"
            )
        keys.add(key)
    return frozenset(keys)


def trusted_proxies(text: object) -> tuple[IPNetwork, ...]:
    """The TRUSTED_PROXIES setting: addresses or networks (``10.0.0.0/8``),
    separated by spaces or commas.

    :raise ConfigError: an item that is neither.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{ENV_PREFIX}TRUSTED_PROXIES must be a string")
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{ENV_PREFIX}TRUSTED_PROXIES: {item!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def binds(bind: object) -> list[tuple[str, int]]:
    """The BIND setting as (host, port) pairs: ``"0.0.0.0:4567 [::1]:8080"``.

    Items are separated by spaces or commas.
    :raise ConfigError: no address, or an item that is not host:port.
    """
    if not isinstance(bind, str):
        raise ConfigError(f"{ENV_PREFIX}BIND must be a string, not {bind!r}")
    pairs = []
    for item in bind.replace(",", " ").split():
        host, _, port = item.rpartition(":")
        if (
            not host
            or not (port.isascii() and port.isdigit())
            or not 0 < int(port) < 65536
        ):
            raise ConfigError(f"{ENV_PREFIX}BIND: {item!r} is not host:port")
        pairs.append((host.strip("[]"), int(port)))
    if not pairs:
        raise ConfigError(f"{ENV_PREFIX}BIND names no host:port address")
    return pairs
