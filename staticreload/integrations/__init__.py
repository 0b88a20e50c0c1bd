"""Framework integrations: hooks that keep a framework's global registries right across reloads.

Each integration is installed on every reloader the middleware makes and stays
idle, importing nothing, until the application has imported its framework.
"""

from __future__ import annotations

from staticreload.integrations import django, sqlalchemy
from staticreload.reloader import Reloader

__all__ = ["install"]


def install(reloader: Reloader) -> None:
    """Install every integration's hooks on ``reloader`` (each at most once).

    Call it after the application has loaded: Django's integration looks at
    the configured project then (it does nothing for an application that is
    not a Django project).

    Args:
        reloader: the reloader whose reloads the integrations follow.
    """
    sqlalchemy.install(reloader)
    django.install(reloader)
