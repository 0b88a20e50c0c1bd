"""The app's configuration: nothing to set up, it only brings the ``hotrunserver`` command."""

from __future__ import annotations

from django.apps import AppConfig  # type: ignore[import-untyped]

__all__ = ["StaticReloadConfig"]


class StaticReloadConfig(AppConfig):  # type: ignore[misc]  # Django has no type hints
    """``staticreload.contrib.django``."""

    name = "staticreload.contrib.django"
    label = "staticreload"
    verbose_name = "staticreload"
