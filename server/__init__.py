"""Serving stashd: the server adapters, the launcher, the embedded Redis, bootstrap."""
