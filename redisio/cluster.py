"""Redis Cluster for the lean clients: each call goes to the primary of its slot.

`ClusterBlockingClient` and `ClusterPipelinedClient` keep a slot map (``CLUSTER
SLOTS``) and one client per primary (so a connection per node and thread, or one
pipelined connection per node and event loop). A ``MOVED`` reply updates the map and
sends the call where it points; ``ASK`` sends ``ASKING`` and the call back to back on
the target's connection, leaving the map as it is; ``TRYAGAIN`` (keys of a slot
half-migrated) tries again shortly. Redis ran none of those, so sending again is
safe. A node that cannot be reached makes the map be read again on the next call: a
replica may have taken over. Everything else follows the single-node clients.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import AskError, MovedError, NoScriptError, TryAgainError
from redis.retry import Retry

from core.addresses import redis_target
from core.errors import UNREACHABLE
from redisio.calls import WIDEN_ROUNDS, Call, too_wide
from redisio.clients import BlockingClient, confirm, node_options
from redisio.pipe import discard
from redisio.pipelined import PipelinedClient
from redisio.wire import Command, unpacked

SLOTS = 16384
# Redirections followed for one call: a slot moves once per reshard step.
MAX_REDIRECTS = 5
# Seconds before a call that met TRYAGAIN is sent again.
TRY_AGAIN_DELAY = 0.02

Address = tuple[str, int]
T = TypeVar("T")

# Commands that name no key: they go to any node.
_KEYLESS = frozenset({b"PING", b"TIME", b"WAIT", b"INFO", b"CLUSTER", b"SCRIPT"})


def call_slot(args: Command) -> int | None:
    """The slot of the first key `args` names, or None for a keyless command."""
    args = unpacked(args)
    name = args[0].encode() if isinstance(args[0], str) else args[0]
    name = name.upper()
    if name in (b"EVALSHA", b"EVAL"):
        return _slot(args[3]) if int(args[2]) else None
    if name in _KEYLESS or len(args) < 2:
        return None
    return _slot(args[1])


def _slot(key: str | bytes) -> int:
    return key_slot(key.encode() if isinstance(key, str) else key)


def slot_table(reply: list, asked: Address) -> list[Address | None]:
    """``CLUSTER SLOTS`` as the primary of each slot (None where none serves it); a
    node announced without a host is on the host of the node `asked`."""
    table: list[Address | None] = [None] * SLOTS
    for start, end, primary, *_ in reply:
        host = primary[0].decode() if isinstance(primary[0], bytes) else primary[0]
        address = (host or asked[0], int(primary[1]))
        table[start : end + 1] = [address] * (end - start + 1)
    return table


class _Map:
    """The slot map and the nodes it was last read from, shared by one client."""

    def __init__(self, seeds: Iterable[Address]) -> None:
        self.seeds = list(seeds)
        self.table: list[Address | None] | None = None

    def candidates(self) -> list[Address]:
        """Nodes to read the map from: those in the map, then the seeds."""
        known = {a for a in self.table or () if a is not None}
        return [*sorted(known), *(s for s in self.seeds if s not in known)]

    def address(self, slot: int | None) -> Address:
        """The primary of `slot` (any node for None).

        :raise redis.ConnectionError: no node serves it (the cluster is down).
        """
        table = self.table
        assert table is not None
        address = table[slot if slot is not None else 0]
        if address is None:
            raise redis.ConnectionError(f"no node of the cluster serves slot {slot}")
        return address

    def moved(self, exc: MovedError) -> None:
        if self.table is not None:
            self.table[exc.slot_id] = exc.node_addr


class ClusterBlockingClient(BlockingClient):
    """`BlockingClient` over a Redis Cluster: a `BlockingClient` per primary."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        target = redis_target(config["REDIS_URL"])
        node, tls = node_options(target)
        node.pop("db", None)
        timeout = config["REDIS_TIMEOUT"]
        self._options = {
            **node,
            **tls,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # No retries: redis-py's default tries a refused connect ten times.
            "retry": Retry(NoBackoff(), 0),
            "client_name": "stashd",
        }
        self.replicas = config.get("REDIS_WAIT_REPLICAS", 0)
        self._map = _Map(target.nodes)
        self._nodes: dict[Address, BlockingClient] = {}
        self._lock = threading.Lock()

    def _node(self, address: Address) -> BlockingClient:
        node = self._nodes.get(address)
        if node is None:
            with self._lock:
                node = self._nodes.get(address)
                if node is None:
                    host, port = address
                    # Only its pool's settings are used: no connection is pooled.
                    client = redis.Redis(host=host, port=port, **self._options)
                    node = self._nodes[address] = BlockingClient(client, self.replicas)
        return node

    def _address(self, slot: int | None) -> Address:
        if self._map.table is None:
            self._read_map()
        return self._map.address(slot)

    def _read_map(self) -> None:
        errors = []
        for address in self._map.candidates():
            try:
                reply = self._node(address).execute("CLUSTER", "SLOTS")
            except UNREACHABLE as exc:
                errors.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            self._map.table = slot_table(reply, address)
            return
        raise redis.ConnectionError(f"no cluster node answers: {'; '.join(errors)}")

    def execute(self, *args: Any) -> Any:
        """Run one command on the primary of its key's slot."""
        return self.run(Call(args))

    def run_all(self, calls: list[Call]) -> list[Any]:
        """Run `calls` in order, each on the primary of its own slot (a batch of
        a backup import spans slots): one round trip each, for maintenance."""
        return [self.run(call) for call in calls]

    def run(self, call: Call) -> Any:
        """Run `call` on the primary of its slot, following redirections."""
        slot = call_slot(call.args)
        asking: Address | None = None
        for _ in range(MAX_REDIRECTS):
            address = asking or self._address(slot)
            node = self._node(address)
            try:
                return self._on(node, call, asking is not None)
            except MovedError as exc:  # before AskError: it is one
                self._map.moved(exc)
                asking = None
            except AskError as exc:
                asking = exc.node_addr
            except TryAgainError:
                time.sleep(TRY_AGAIN_DELAY)
                asking = None
            except UNREACHABLE:
                self._map.table = None  # a replica may have taken over
                raise
        raise redis.ConnectionError("too many cluster redirections")

    def _on(self, node: BlockingClient, call: Call, asking: bool) -> Any:
        def once(args: Command) -> Any:
            if asking:
                node.execute("ASKING")
            return node.command(args)

        try:
            reply = once(call.args)
        except NoScriptError:
            reply = once(call.fallback())
        if call.declares and (wider := call.widened(reply)) is not None:
            return self._widen(wider)
        if self.replicas and call.write:
            node.confirm_writes()
        return call.result(reply)

    def _widen(self, call: Call) -> Any:
        """Run `call` again while its script asks for more keys: each round on the
        primary of its slot now (a round may meet a redirection)."""
        for _ in range(WIDEN_ROUNDS):
            address = self._address(call_slot(call.args))
            try:
                reply = self._node(address).command(call.args)
            except (MovedError, AskError, TryAgainError):
                return self.run(call)  # it did not run: as any call
            wider = call.widened(reply)
            if wider is None:
                if self.replicas and call.write:
                    self._node(address).confirm_writes()
                return call.result(reply)
            call = wider
        raise too_wide(call)

    def close(self) -> None:
        """Close the calling thread's connections."""
        for node in list(self._nodes.values()):
            node.close()


class ClusterPipelinedClient(PipelinedClient):
    """`PipelinedClient` over a Redis Cluster: a `PipelinedClient` per primary."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        target = redis_target(config["REDIS_URL"])
        self._config = {**config, "REDIS_URL": target.node_url}
        self.replicas = config.get("REDIS_WAIT_REPLICAS", 0)
        self._map = _Map(target.nodes)
        self._nodes: dict[Address, PipelinedClient] = {}
        self._reading: asyncio.Lock | None = None

    def _node(self, address: Address) -> PipelinedClient:
        node = self._nodes.get(address)
        if node is None:
            node = PipelinedClient(self._config)
            node.params = {**node.params, "host": address[0], "port": address[1]}
            self._nodes[address] = node
        return node

    async def _address(self, slot: int | None) -> Address:
        if self._map.table is None:
            if self._reading is None:
                self._reading = asyncio.Lock()
            async with self._reading:  # one read, however many ask at once
                if self._map.table is None:
                    await self._read_map()
        return self._map.address(slot)

    async def _read_map(self) -> None:
        errors = []
        for address in self._map.candidates():
            try:
                reply = await self._node(address).execute("CLUSTER", "SLOTS")
            except UNREACHABLE as exc:
                errors.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            self._map.table = slot_table(reply, address)
            return
        raise redis.ConnectionError(f"no cluster node answers: {'; '.join(errors)}")

    async def execute(self, *args: Any) -> Any:
        """Run one command on the primary of its key's slot."""
        return await self.run(Call(args))

    async def run(self, call: Call) -> Any:
        """Run `call` on the primary of its slot, following redirections."""
        slot = call_slot(call.args)
        asking: Address | None = None
        for _ in range(MAX_REDIRECTS):
            try:
                if asking is None:
                    return await self._node(await self._address(slot)).run(call)
                return await self._asking(self._node(asking), call)
            except MovedError as exc:  # before AskError: it is one
                self._map.moved(exc)
                asking = None
            except AskError as exc:
                asking = exc.node_addr
            except TryAgainError:
                await asyncio.sleep(TRY_AGAIN_DELAY)
                asking = None
            except UNREACHABLE:
                self._map.table = None  # a replica may have taken over
                raise
        raise redis.ConnectionError("too many cluster redirections")

    async def _asking(self, node: PipelinedClient, call: Call) -> Any:
        """`call` right behind ``ASKING`` on one connection (and its WAIT)."""
        try:
            reply = await self._asked(node, call.args, call.write)
        except NoScriptError:
            reply = await self._asked(node, call.fallback(), call.write)
        if call.declares and (wider := call.widened(reply)) is not None:
            return await self.run(wider)  # with more keys, wherever they are now
        return call.result(reply)

    async def _asked(self, node: PipelinedClient, args: Command, write: bool) -> Any:
        pipe = await node._connection()
        commands: list[Command] = [("ASKING",), args]
        if self.replicas and write:
            commands.append(node._wait)
        waiters = [pipe.send(command) for command in commands]
        try:
            for waiter in waiters:
                await waiter
        finally:
            for waiter in waiters:
                discard(waiter)
        if len(waiters) == 3:
            confirm(waiters[2].result(), self.replicas)
        return waiters[1].result()

    def close(self) -> None:
        """Close every node's connections."""
        for node in self._nodes.values():
            node.close()
