"""The Sensu 1.x API dialect shared by the stash and silenced routes: list queries."""
