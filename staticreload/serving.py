"""A threaded development server for ``HotReloadMiddleware``: the standard library's wsgiref."""

from __future__ import annotations

import ipaddress
import logging
import os
import socketserver
import sys
from collections.abc import Sequence
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from staticreload.wsgi import HotReloadMiddleware, OnError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ThreadingWSGIServer", "serve"]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # the error page shows source: keep it off the network
DEFAULT_PORT = 8000


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request."""

    daemon_threads = True  # Ctrl-C does not wait for open connections
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 refuses connections under a burst of clients


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the ``logging`` module instead of raw stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def serve(
    target: str,
    *,
    factory: bool = False,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    watch: Sequence[str] | None = None,
    debounce_s: float | None = None,
    on_error: OnError = "page",
) -> None:
    """Serve ``target`` under hot reload until interrupted (Ctrl-C).

    The current directory is put first on ``sys.path``, as ``flask run`` and
    ``uvicorn`` do, so that ``target`` can name a module of the project.

    Args:
        target: ``"package.module:attribute"`` of a WSGI application or factory.
        factory: the attribute is an application factory.
        host: the address to bind; a warning is logged for a non-loopback one.
        port: the port to bind; 0 picks a free one. The address actually bound is
            logged as ``serving on http://HOST:PORT``.
        watch: folders or packages to reload instead of the application's own.
        debounce_s: see :class:`staticreload.Reloader`, in seconds.
        on_error: see :class:`HotReloadMiddleware`.

    Raises:
        AppLoadError: the application cannot be loaded.
        OSError: the address cannot be bound.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    middleware = HotReloadMiddleware(
        target,
        targets=watch or None,
        factory=factory,
        on_error=on_error,
        debounce_s=debounce_s,
    )
    with middleware:
        server = make_server(
            host, port, middleware, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        with server:
            bound_host, bound_port = server.server_address[:2]
            if not _is_loopback(host):
                logger.warning(
                    "bound to %s: clients on other machines can reach this development "
                    "server (error pages with source go to loopback clients only)",
                    host,
                )
            logger.info("serving on http://%s:%d", bound_host, bound_port)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                logger.info("stopped")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
