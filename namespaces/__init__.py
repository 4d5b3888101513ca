"""Namespaces: the Sensu Go namespaces API (``bp``), and the namespace store that
every per-namespace API (assets, later silenced entries and archives) checks."""

from namespaces.routes import bp

__all__ = ["bp"]
