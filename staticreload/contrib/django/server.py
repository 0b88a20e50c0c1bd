"""What ``hotrunserver`` serves, and the one call into staticreload's ``serve``.

The application is a factory, called at start and after every reload: the
project's ``settings.WSGI_APPLICATION`` as Django's own ``runserver`` finds
it, wrapped in staticfiles' handler when static files are to be served. Its
options travel in the environment, so that a worker process started by the
server inherits them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from staticreload import serving
from staticreload.integrations import django as integration

__all__ = ["APPLICATION", "STATIC_ENV", "create_application", "run"]

APPLICATION = "staticreload.contrib.django.server:create_application"
STATIC_ENV = "STATICRELOAD_DJANGO_STATIC"  # "1": serve STATIC_URL with staticfiles' handler


def create_application() -> Any:
    """The project's WSGI application (``settings.WSGI_APPLICATION``), serving static files
    too if ``$STATICRELOAD_DJANGO_STATIC`` is ``"1"``.

    Raises:
        ImproperlyConfigured: ``WSGI_APPLICATION`` cannot be imported.
    """
    from django.core.servers.basehttp import (  # type: ignore[import-untyped]
        get_internal_wsgi_application,
    )

    application = get_internal_wsgi_application()
    if os.environ.get(STATIC_ENV) == "1":
        from django.contrib.staticfiles.handlers import (  # type: ignore[import-untyped]
            StaticFilesHandler,
        )

        return StaticFilesHandler(application)
    return application


def run(
    *,
    host: str,
    port: int,
    serve_static: bool,
    watch: Sequence[str] = (),
    debounce_s: float | None = None,
    on_error: Literal["page", "keep"] = "page",
) -> None:
    """Serve the project under hot reload until SIGINT (Ctrl-C) or SIGTERM.

    What to reload is the project's Django targets (its apps, settings and
    URLconf packages) plus ``watch``; an edit of a models module, an
    ``apps.py``, a migration or the settings restarts the worker instead.

    Args:
        host: the address to bind.
        port: the port to bind; 0 picks a free one.
        serve_static: serve ``STATIC_URL`` from the static files finders.
        watch: more packages or folders to reload.
        debounce_s: see :func:`staticreload.serving.serve`.
        on_error: see :func:`staticreload.serving.serve`.

    Raises:
        AppLoadError: the application cannot be loaded.
        ConfigError: a bad ``debounce_s`` or ``STATICRELOAD_DEBOUNCE_S``.
        OSError: the address cannot be bound.
    """
    os.environ[STATIC_ENV] = "1" if serve_static else "0"
    serving.serve(
        APPLICATION,
        factory=True,
        host=host,
        port=port,
        targets=[*integration.targets(), *watch],
        debounce_s=debounce_s,
        on_error=on_error,
        restart_on=integration.restart_patterns(),
    )
