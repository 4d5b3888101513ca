"""Who a request is: the configured administrator, a user, an API key or a token.

Three kinds of credentials exist (spec assets.md section 9, stashes.md section 9):

* HTTP Basic: a user's name and password. The configured administrator
  (``STASHD_API_USER``) is checked in memory; other users against their stored
  scrypt hash, which is slow by design, and the verdict is remembered briefly.
* ``Authorization: Key <api key>``: keys from the API keys API or ``STASHD_API_KEY``.
* ``Authorization: Bearer <access token>``: tokens issued by ``/auth``.

Every check that needs Redis or a password hash is written once, as steps that
yield a `Call` (a Redis round trip) or a `Hash` (a password check); server threads
run them blocking (`check`, and the Sensu Go routes), an event loop without blocking
(`settle`: Redis through its pipelined client, hashes on the `Hasher`'s threads).
Each failure counts against the client's address; past the limit, the address gets
429 without any hash until its window ends (`accounts.throttle`, spec 17.3, 17.4).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from accounts.passwords import (
    BasicAuth,
    Hash,
    Hasher,
    basic_credentials,
    digest,
    hash_password,
    new_secret,
)
from accounts.scopes import REFUSED, right_of
from accounts.scopes import allows as scopes_allow
from accounts.store import AccountStore
from accounts.throttle import Throttle
from core.errors import ApiError, Forbidden, Unauthorized
from core.request import Request
from redisio.calls import Call, Steps

if TYPE_CHECKING:
    from redisio.clients import BlockingClient
    from redisio.pipelined import PipelinedClient

# What the routes and the launchers use from here, made in `passwords`.
__all__ = ["Authenticator", "digest", "hash_password"]

T = TypeVar("T")

# What a check yields: Redis round trips and password checks, in order.
Check = Generator[Call | Hash, Any, T]

# How long a Basic verification of a stored user is remembered, and how many: a
# handler polling every few seconds pays scrypt once per window, also one polling
# with a wrong password (whose failures still count).
BASIC_CACHE_SECONDS = 30.0
BASIC_CACHE_SIZE = 4096

_TOKENS = ("Key ", "Bearer ")


def _bad() -> Unauthorized:
    return Unauthorized("bad credentials")


def _invalid() -> Unauthorized:
    return Unauthorized("invalid credentials")


class Authenticator:
    """Who a request is, from its Authorization header; users live in `accounts`,
    whose round trips `client` runs on server threads."""

    def __init__(
        self,
        accounts: AccountStore,
        client: BlockingClient,
        config: Mapping[str, Any],
    ) -> None:
        self.accounts = accounts
        self.client = client
        user, password = config["API_USER"], config["API_PASSWORD"]
        # The configured admin: checked without Redis, never hashed nor throttled.
        self.admin = BasicAuth(user, password) if user and password else None
        self.admin_name: str = user or ""
        self.access_ttl: int = config["ACCESS_TOKEN_TTL"]
        self.refresh_ttl: int = config["REFRESH_TOKEN_TTL"]
        self.throttle = Throttle(config)
        self.hasher = Hasher()
        # digest(Authorization header) -> (time.monotonic() deadline, verdict)
        self._verified: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    @property
    def guards_stashes(self) -> bool:
        """True when the stash routes require credentials (an admin is configured)."""
        return self.admin is not None

    # The Sensu 1.x routes: the gate's credential check (core.gate.Credentials).

    def quick(self, request: Request) -> bool:
        """True when `request` may use the stash routes, told from memory alone;
        False when only `check` or `settle` can tell.

        :raise Unauthorized: no credentials. :raise TooManyRequests: see module.
        """
        header = request.header("authorization")
        admin = self.admin
        if admin is None or admin.check(header):
            return True
        if not header:
            raise Unauthorized()
        if self.throttle.blocked:
            self.throttle.refuse_if_blocked(self.throttle.address(request))
        return not header.startswith(_TOKENS) and self._cached(header) is True

    def check(self, request: Request) -> None:
        """Whether `request` may use the stash routes, waiting for Redis and hashes.

        :raise Unauthorized: :raise TooManyRequests: :raise redis.RedisError:
        """
        if not self.quick(request):
            self.run(self._stash_user(request))

    async def settle(self, request: Request, client: PipelinedClient) -> None:
        """`check` on an event loop: Redis through `client`, hashes on threads.

        :raise Unauthorized: :raise TooManyRequests: :raise redis.RedisError:
        """
        await self.run_async(self._stash_user(request), client)

    def _stash_user(self, request: Request) -> Check[str]:
        header = request.header("authorization") or ""
        address = self.throttle.address(request)
        if header.startswith(_TOKENS):
            user, scopes = yield from self._token_identity(
                header, address, Unauthorized()
            )
            # A scoped key reaches the stash routes only with a stashes scope.
            if not scopes_allow(scopes, "stashes", right_of(request.method), None):
                raise Forbidden(REFUSED)
            return user
        return (yield from self._basic_user(header, address, Unauthorized()))

    # The Sensu Go routes and /auth (on server threads).

    def sensu_go_user(self, request: Request) -> str:
        """The user behind a Key or Bearer header (spec assets.md section 9.1).

        :raise Unauthorized: no usable header, or a key or token that is not valid.
        :raise TooManyRequests: see the module docstring.
        """
        return self.run(self._sensu_go_user(request))[0]

    def sensu_go_identity(self, request: Request) -> tuple[str, list[str] | None]:
        """`sensu_go_user`, with the key's scopes (None: unrestricted)."""
        return self.run(self._sensu_go_user(request))

    def sensu_go_steps(self, request: Request) -> Steps[tuple[str, list[str] | None]]:
        """`sensu_go_identity` as Redis round trips for any client to drive (the
        fast routes): Key and Bearer checks hash no password."""
        return cast(Steps[tuple[str, list[str] | None]], self._sensu_go_user(request))

    def _sensu_go_user(self, request: Request) -> Check[tuple[str, list[str] | None]]:
        header = request.header("authorization")
        if not header or (self.admin is not None and self.admin.check(header)):
            raise _bad()  # no credentials; the admin's Basic ones are not for here
        address = self._unblocked_address(request)
        if not header.startswith(_TOKENS):
            raise (yield from self._failed(address, _bad()))
        return (yield from self._token_identity(header, address, _invalid()))

    def basic_user(self, request: Request) -> str:
        """The user whose Basic credentials `request` carries (/auth, /auth/test).

        :raise Unauthorized: :raise TooManyRequests:
        """
        return self.run(self._login_user(request))

    def _login_user(self, request: Request) -> Check[str]:
        header = request.header("authorization")
        if self.admin is not None and self.admin.check(header):
            return self.admin_name
        if not header:
            raise Unauthorized()
        address = self._unblocked_address(request)
        return (yield from self._basic_user(header, address, Unauthorized()))

    def bearer_token(self, request: Request) -> tuple[str, str]:
        """(digest, user) of the Bearer token of `request`, even expired.

        :raise Unauthorized: no Bearer header, or a token this server never issued
            (or whose user is gone). :raise TooManyRequests:
        """
        return self.run(self._bearer_token(request))

    def _bearer_token(self, request: Request) -> Check[tuple[str, str]]:
        header = request.header("authorization")
        if not header:
            raise _bad()
        address = self._unblocked_address(request)
        if not header.startswith("Bearer "):
            raise (yield from self._failed(address, _bad()))
        token = digest(header[7:])
        call = self.accounts.token_login(
            address, token, *self._limits, time.time(), expired=True
        )
        user = self.throttle.outcome((yield call), address, _invalid())
        return token, user

    def refresh_owner(self, request: Request, refresh: object, user: str) -> int:
        """Seconds left to `refresh`, a refresh token that must be `user`'s.

        :raise Unauthorized: it is not (the failure counts). :raise TooManyRequests:
        """
        return self.run(self._refresh_owner(request, refresh, user))

    def _refresh_owner(
        self, request: Request, refresh: object, user: str
    ) -> Check[int]:
        owner = None
        if isinstance(refresh, str) and refresh:
            owner = yield self.accounts.refresh_user(digest(refresh))
        if owner is None or owner[0] != user:
            address = self.throttle.address(request)
            error = Unauthorized("invalid refresh token")
            raise (yield from self._failed(address, error))
        return owner[1]

    def issue_tokens(
        self, user: str, refresh: str | None = None, keep: int | None = None
    ) -> dict[str, Any]:
        """New tokens for `user` in Sensu's shape; with `refresh` (which has `keep`
        seconds left), only a new access token, and `refresh` echoed back (Sensu Go
        6.x does not rotate it).

        :raise Unauthorized: `user` no longer exists.
        """
        new_refresh = None
        if refresh is None:
            refresh = new_refresh = new_secret()
            keep = self.refresh_ttl
        access = new_secret()
        expires_at = int(time.time()) + self.access_ttl
        call = self.accounts.put_tokens(
            digest(access),
            None if new_refresh is None else digest(new_refresh),
            user,
            expires_at,
            max(keep or 0, self.access_ttl),
        )
        if not self.client.run(call):
            raise _invalid()
        return {
            "access_token": access,
            "expires_at": expires_at,
            "refresh_token": refresh,
        }

    # Changes to users made by this process: they end its remembered verdicts too.

    def set_password(self, name: str, password: str) -> None:
        """Create user `name` or change its password, ending its tokens at once."""
        call = self.accounts.put_user(name, hash_password(password), int(time.time()))
        self.client.run(call)
        self.forget()

    def remove_user(self, name: str) -> bool:
        """Delete user `name` with its API keys and tokens; True when it existed."""
        removed = self.client.run(self.accounts.delete_user(name))
        self.forget()
        return removed

    def forget(self) -> None:
        """Forget every remembered Basic verdict."""
        with self._lock:
            self._verified.clear()

    # The checks, as steps.

    @property
    def _limits(self) -> tuple[int, int]:
        return self.throttle.limit, self.throttle.window

    def _unblocked_address(self, request: Request) -> str:
        address = self.throttle.address(request)
        if self.throttle.blocked:
            self.throttle.refuse_if_blocked(address)
        return address

    def _failed(self, address: str, error: ApiError) -> Check[ApiError]:
        """Count a failure of `address`; the error to raise: `error`, or 429 when
        the address was throttled already."""
        attempt = yield self.accounts.failed_login(address, *self._limits)
        return self.throttle.refusal(attempt, address, error)

    def _token_user(self, header: str, address: str, error: ApiError) -> Check[str]:
        user, _ = yield from self._token_identity(header, address, error)
        return user

    def _token_identity(
        self, header: str, address: str, error: ApiError
    ) -> Check[tuple[str, list[str] | None]]:
        """(user, scopes) of a Key or Bearer header; only keys carry scopes."""
        secret = digest(header.partition(" ")[2])
        if header.startswith("Key "):
            call = self.accounts.apikey_login(address, secret, *self._limits)
        else:
            call = self.accounts.token_login(
                address, secret, *self._limits, time.time()
            )
        attempt = yield call
        return self.throttle.outcome(attempt, address, error), attempt.scopes

    def _basic_user(self, header: str, address: str, error: ApiError) -> Check[str]:
        credentials = basic_credentials(header)
        if credentials is None:
            raise (yield from self._failed(address, error))
        user, password = credentials
        try:
            name = user.decode()
        except UnicodeDecodeError:
            name = ""
        known = self._cached(header) if name else False
        if known is False:
            raise (yield from self._failed(address, error))
        if known:
            return name
        attempt = yield self.accounts.login(address, name, *self._limits)
        stored = self.throttle.outcome(attempt, address, error)
        with self.throttle.hashing(address, attempt.failures):
            verified = yield Hash(password, stored)
        self._remember(header, verified)
        if not verified:
            raise (yield from self._failed(address, error))
        return name

    def _cached(self, header: str) -> bool | None:
        """The remembered verdict on these Basic credentials, or None."""
        # Keyed by a digest: the cache never holds a password, even in memory.
        deadline, verdict = self._verified.get(digest(header), (0.0, None))
        return verdict if deadline > time.monotonic() else None

    def _remember(self, header: str, verdict: bool) -> None:
        with self._lock:
            if len(self._verified) >= BASIC_CACHE_SIZE:
                self._verified.clear()
            deadline = time.monotonic() + BASIC_CACHE_SECONDS
            self._verified[digest(header)] = (deadline, verdict)

    # The two ways to run a check.

    def run(self, steps: Check[T]) -> T:
        """Run `steps` on this thread: Redis by the blocking client, hashes when the
        `Hasher` has a free slot."""
        try:
            step = next(steps)
            while True:
                if isinstance(step, Hash):
                    step = steps.send(self.hasher.verify(step))
                else:
                    step = steps.send(self.client.run(step))
        except StopIteration as done:
            return done.value
        finally:
            steps.close()

    async def run_async(self, steps: Check[T], client: PipelinedClient) -> T:
        """Run `steps` without blocking the event loop: Redis through `client`,
        hashes on the `Hasher`'s threads."""
        loop = asyncio.get_running_loop()
        try:
            step = next(steps)
            while True:
                if isinstance(step, Hash):
                    hasher = self.hasher
                    verified = await loop.run_in_executor(
                        hasher.pool(), hasher.verify, step
                    )
                    step = steps.send(verified)
                else:
                    step = steps.send(await client.run(step))
        except StopIteration as done:
            return done.value
        finally:
            steps.close()
