"""Commands in Redis's wire form (RESP), made without a string per key.

A match asks for a dozen keys that share the namespace's prefix. Making each key a
string and having hiredis pack them was a third of a match's work in stashd:
hiredis formats every argument's length with ``sprintf``. `pack_keys` writes the
command from its pieces instead, each length read from a table, and the clients
send a packed command (bytes) as it is (`unpacked` gives its arguments back, for
routing it on Redis Cluster).
"""

from __future__ import annotations

from collections.abc import Collection

import hiredis

# Keys of this many bytes or more are left to hiredis (`pack_keys` falls back).
_TABLE = 4096
# What ends one argument and starts the next, of n bytes; what starts n of them.
_NEXT = tuple(f"\r\n${n}\r\n" for n in range(_TABLE))
_COUNT = tuple(f"*{n}" for n in range(_TABLE))

# A command, as `Call.args` holds it: its arguments, or (bytes) the whole of it in
# RESP, which the clients send as it is.
Command = tuple | bytes


def pack_keys(
    command: str,
    prefix: str,
    heads: Collection[str],
    sides: tuple[str, str],
    last: str,
) -> Command:
    """``command`` over the keys ``prefix + head + side``, both sides of each head
    in turn, then ``prefix + last``: packed, its keys never made one by one.

    The plain arguments instead when a piece is not ASCII (byte lengths are then
    not character counts), or when there are too many keys or too long ones for
    the tables.
    """
    first, second = sides
    size = len(prefix)
    one, two = size + len(first), size + len(second)  # a key's length, less its head's
    try:
        parts = [_COUNT[2 * len(heads) + 2], _NEXT[len(command)], command]
        for head in heads:
            n = len(head)
            # (one tuple: one extend of `parts`, not two)
            parts += (_NEXT[one + n], prefix, head, first,
                      _NEXT[two + n], prefix, head, second)  # fmt: skip
        parts += (_NEXT[size + len(last)], prefix, last, "\r\n")
    except IndexError:
        return _plain(command, prefix, heads, sides, last)
    text = "".join(parts)
    if not text.isascii():
        return _plain(command, prefix, heads, sides, last)
    return text.encode()


def _plain(
    command: str, prefix: str, heads: Collection[str], sides: tuple[str, str], last: str
) -> tuple:
    keys = [prefix + head + side for head in heads for side in sides]
    return (command, *keys, prefix + last)


def unpacked(args: Command) -> tuple:
    """The arguments of a command, whether packed or not (packed ones as text)."""
    if not isinstance(args, bytes):
        return args
    reader = hiredis.Reader(encoding="utf-8")  # a command is an array of strings
    reader.feed(args)
    return tuple(reader.gets())
