"""Driving `Steps`: run each call a generator yields, and send it the result.

One loop for the blocking clients and one for the pipelined ones, each given the
client's own ways to run a call and a list of calls (a step over every stash
bucket on Redis Cluster).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redisio.calls import Call, Steps

T = TypeVar("T")


def drive_steps(
    steps: Steps[T],
    run: Callable[[Call], Any],
    run_each: Callable[[list[Call]], list[Any]],
) -> T:
    """Run each call `steps` yields with `run` (a list of calls with `run_each`),
    sending it the result; return the steps' own.

    A call that fails (Redis down, an error reply) raises its error in `steps`.
    """
    try:
        call: Any = next(steps)
        while True:
            try:
                result = run_each(call) if type(call) is list else run(call)
            except Exception as exc:  # the steps may answer it
                call = steps.throw(exc)
            else:
                call = steps.send(result)
    except StopIteration as done:
        return done.value


async def drive_steps_async(
    steps: Steps[T],
    run: Callable[[Call], Awaitable[Any]],
    run_each: Callable[[list[Call]], Awaitable[list[Any]]],
) -> T:
    """`drive_steps`, awaiting each run without blocking the loop."""
    try:
        call: Any = next(steps)
        while True:
            try:
                if type(call) is list:
                    result = await run_each(call)
                else:
                    result = await run(call)
            except Exception as exc:  # the steps may answer it
                call = steps.throw(exc)
            else:
                call = steps.send(result)
    except StopIteration as done:
        return done.value
