"""Strict JSON in and out: whatever is accepted can be served back as valid JSON.

Python's `json` accepts NaN and Infinity, turns ``1e400`` into infinity and leaves
lone surrogates in strings; none of those may reach a client again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from core.errors import BadRequest

# Deeper documents get 400; 512 also keeps the C parser and encoder far from
# Python's recursion limit, so everything accepted can be encoded again.
MAX_DEPTH = 512


def _no_constants(name: str) -> Any:
    raise BadRequest(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise BadRequest(f"number {text} is out of range")
    return number


_decoder = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite_float)


def parse(body: bytes) -> Any:
    """The one JSON value in `body`, which must be UTF-8 without a byte order mark.

    :raise BadRequest: with a reason a person can act on.
    """
    if not body.strip():
        raise BadRequest("request body is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8") from None
    if text.startswith("\ufeff"):
        raise BadRequest("request body must not start with a byte order mark")
    try:
        value = _decoder.decode(text)
    except RecursionError:
        raise BadRequest(f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise BadRequest(f"request body has an unusable number: {exc}") from None
    # Counting brackets (strings included) is cheap and bounds the real depth.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(
        value, MAX_DEPTH
    ):
        raise BadRequest(f"JSON is nested deeper than {MAX_DEPTH} levels")
    return value


def parse_object(body: bytes) -> dict[str, Any]:
    """`body` as a JSON object (`parse`'s rules). :raise BadRequest:"""
    value = parse(body)
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8; text with lone surrogates falls back to \\u escapes."""
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
