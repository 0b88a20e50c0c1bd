"""``serve``: the standard library's threaded wsgiref server, running ``HotReloadMiddleware``."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socketserver
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from staticreload.config import resolve_debounce_s
from staticreload.errorpage import is_loopback
from staticreload.wsgi import HotReloadMiddleware, OnError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "STOP_SIGNALS", "ThreadingWSGIServer", "serve"]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # the error page shows source: keep it off the network
DEFAULT_PORT = 8000
# Ctrl-C, and what process managers and `kill` send. Handled explicitly: a
# process started in the background by a shell without job control (`cmd &`)
# inherits SIGINT ignored, and Python then leaves it ignored.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request."""

    daemon_threads = True  # stopping does not wait for open connections
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 refuses connections under a burst of clients


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the ``logging`` module instead of raw stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _Stop(KeyboardInterrupt):
    """Raised in the main thread by a stop signal's handler.

    A ``KeyboardInterrupt``, as Ctrl-C raises by default: an application's
    ``except Exception`` around slow start-up code does not swallow it, and a
    caller that handles Ctrl-C handles SIGTERM alike.
    """

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


def serve(
    target: str,
    *,
    factory: bool = False,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    targets: Sequence[str] | None = None,
    debounce_s: float | None = None,
    on_error: OnError = "page",
) -> None:
    """Serve ``target`` under hot reload until SIGINT (Ctrl-C) or SIGTERM, then return.

    The current directory is put first on ``sys.path``, as ``flask run`` and
    ``uvicorn`` do, so that ``target`` can name a module of the project. Called
    from the main thread, ``serve`` handles SIGINT and SIGTERM itself for its
    duration (even if they were ignored), stops the server, the watcher and
    the import recorder, and returns; the previous handlers are put back.

    Args:
        target: ``"package.module:attribute"`` of a WSGI application or factory.
        factory: the attribute is an application factory.
        host: the address to bind; a warning is logged for a non-loopback one.
        port: the port to bind; 0 picks a free one. The address actually bound is
            logged as ``serving on http://HOST:PORT``.
        targets: folders or packages to reload instead of the application's own.
        debounce_s: the quiet time in seconds that ends a burst of saves;
            default from ``STATICRELOAD_DEBOUNCE_S``, else 0.05.
        on_error: see :class:`HotReloadMiddleware`.

    Raises:
        AppLoadError: the application cannot be loaded.
        ConfigError: ``debounce_s`` or ``STATICRELOAD_DEBOUNCE_S`` is not a
            non-negative number (checked before the application is loaded).
        OSError: the address cannot be bound.
    """
    debounce_s = resolve_debounce_s(debounce_s)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    with _stop_signals_handled():
        try:
            with HotReloadMiddleware(
                target,
                targets=targets or None,
                factory=factory,
                on_error=on_error,
                debounce_s=debounce_s,
            ) as middleware:
                _serve_forever(middleware, host, port)
        except KeyboardInterrupt as stop:
            logger.info("stopped (%s)", getattr(stop, "signal_name", "SIGINT"))


def _serve_forever(middleware: HotReloadMiddleware, host: str, port: int) -> None:
    """Bind, log the address, serve until interrupted; close the socket on the way out."""
    server = make_server(
        host, port, middleware, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
    )
    with server:
        bound_host, bound_port = server.server_address[:2]
        if not is_loopback(host):
            logger.warning(
                "bound to %s: clients on other machines can reach this development "
                "server (error pages with source go to loopback clients only)",
                host,
            )
        logger.info("serving on http://%s:%d", bound_host, bound_port)
        server.serve_forever()


@contextlib.contextmanager
def _stop_signals_handled() -> Iterator[None]:
    """Make SIGINT and SIGTERM raise ``_Stop`` (a ``KeyboardInterrupt``) in the main thread.

    Outside the main thread (where Python cannot handle signals) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python; the default is the best guess.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)
