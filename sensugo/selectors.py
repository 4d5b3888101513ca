"""Response filtering: ``labelSelector`` and ``fieldSelector`` (spec assets.md 6.9).

A selector is requirements joined by ``&&``; each is ``key op value`` with the
operators ``==``, ``!=``, ``in``, ``notin`` and ``matches``. Selectors are checked
against a flat string map: an object's labels, or its fields (``asset.name``...).
Beyond Sensu's grammar, values such as ``us-west-1`` or ``1.0`` may go unquoted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

WORD_OPERATORS = ("in", "notin", "matches")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<and>&&)
      | (?P<op>==|!=)
      | (?P<punct>[\[\],])
      | (?P<string>["'][^"']*["']?)
      | (?P<word>[A-Za-z0-9_./:\-]+)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


class SelectorError(ValueError):
    """A selector that does not parse; the message says where."""


class Operand(NamedTuple):
    text: str
    bare: bool  # an unquoted word: may name a key of the set (`"x" in key`)


class Requirement(NamedTuple):
    key: Operand
    op: str  # ==, !=, in, notin, matches
    values: tuple[str, ...] | Operand  # a [list], or one value


Selector = tuple[Requirement, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].isspace():
            break
        match = _TOKEN.match(text, position)
        assert match is not None  # every non-space character matches something
        kind = match.lastgroup or "bad"
        value = match.group(kind)
        if kind == "bad":
            raise SelectorError(f"unexpected {value!r}")
        if kind == "string" and (len(value) < 2 or value[-1] not in "\"'"):
            raise SelectorError("unterminated string")
        if kind == "word" and value.lower() in WORD_OPERATORS:
            kind, value = "op", value.lower()
        tokens.append((kind, value))
        position = match.end()
    return tokens


def _operand(token: tuple[str, str]) -> Operand:
    kind, value = token
    if kind == "word":
        return Operand(value, True)
    if kind == "string":
        return Operand(value[1:-1], False)
    raise SelectorError(f"expected a key or value, found {value!r}")


def parse(text: str) -> Selector:
    """The requirements of `text`; an empty or blank text selects everything.

    :raise SelectorError: `text` does not follow the grammar.
    """
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    i = 0

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise SelectorError("unexpected end of selector")
        i += 1
        return tokens[i - 1]

    while tokens:
        key = _operand(take())
        kind, op = take()
        if kind != "op":
            raise SelectorError(f"expected an operator, found {op!r}")
        if op in ("in", "notin") and i < len(tokens) and tokens[i] == ("punct", "["):
            take()
            items: list[str] = []
            while True:
                token = take()
                if token == ("punct", "]") and not items:
                    break
                items.append(_operand(token).text)
                kind, value = take()
                if (kind, value) == ("punct", "]"):
                    break
                if (kind, value) != ("punct", ","):
                    raise SelectorError(f"expected ',' or ']', found {value!r}")
            requirements.append(Requirement(key, op, tuple(items)))
        else:
            operand = _operand(take())
            if op in ("in", "notin") and not operand.bare:
                raise SelectorError(f"expected a key or a [list] after {op!r}")
            requirements.append(Requirement(key, op, operand))
        if i == len(tokens):
            break
        kind, value = take()
        if kind != "and":
            raise SelectorError(f"expected '&&', found {value!r}")
        if i == len(tokens):
            raise SelectorError("nothing after '&&'")
    return tuple(requirements)


def parse_all(texts: list[str]) -> Selector:
    """Repeated parameters: their requirements joined (``&&``); empty ones ignored."""
    selector: Selector = ()
    for text in texts:
        selector += parse(text)
    return selector


def _split(value: str) -> list[str]:
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [part.strip() for part in value.split(",")]


def _holds(requirement: Requirement, fields: Mapping[str, str]) -> bool:
    key, op, values = requirement
    if not isinstance(values, Operand):  # key in [a, b]
        found = key.text in fields and fields[key.text] in values
        return found if op == "in" else not found
    if op in ("in", "notin") and values.text in fields:  # "x" in key
        found = key.text in _split(fields[values.text])
        return found if op == "in" else not found
    present = key.text in fields
    if op == "matches":
        return present and values.text in fields[key.text]
    equal = present and fields[key.text] == values.text
    return equal if op in ("==", "in") else not equal


def matches(selector: Selector, fields: Mapping[str, str]) -> bool:
    """True when every requirement holds for `fields`."""
    return all(_holds(requirement, fields) for requirement in selector)
