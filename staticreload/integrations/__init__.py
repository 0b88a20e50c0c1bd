"""Framework integrations: hooks that keep a framework's global registries right across reloads.

Each integration is installed on every reloader the middleware makes and stays
idle, importing nothing, until the application has imported its framework.
"""

from __future__ import annotations

from staticreload.integrations import sqlalchemy
from staticreload.reloader import Reloader

__all__ = ["install"]


def install(reloader: Reloader) -> None:
    """Install every integration's hooks on ``reloader`` (each at most once).

    Args:
        reloader: the reloader whose reloads the integrations follow.
    """
    sqlalchemy.install(reloader)
