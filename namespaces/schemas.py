"""A namespace body, and the rules of namespace names (spec assets.md section 11)."""

from __future__ import annotations

import re

import marshmallow as ma

from sensugo.schemas import string

# Go's \w is ASCII only and its $ matches only at the very end (spec 4, 13).
NAMESPACE_NAME = re.compile(r"[\w.\-:]+", re.ASCII)


class NamespaceSchema(ma.Schema):
    """A namespace body: ``{"name": ...}``."""

    class Meta:
        unknown = ma.EXCLUDE  # Go ignores unknown keys, and clients send them

    name = string()


namespace_schema = NamespaceSchema()


def namespace_problem(name: str) -> str | None:
    """Why `name` cannot name a namespace, or None when it can."""
    if not name:
        return "cannot be empty"
    if not NAMESPACE_NAME.fullmatch(name):
        return "may only contain letters, numbers, underscores, dots, dashes and colons"
    return None
