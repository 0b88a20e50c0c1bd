"""``serve``: check the options, bind the socket, handle stop signals, run the supervisor."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

from staticreload.apps import default_targets, parse_target
from staticreload.config import resolve_debounce_s
from staticreload.errorpage import is_loopback
from staticreload.integrations import django
from staticreload.supervisor import AppSettings, Supervisor, watched_folders
from staticreload.wsgi import OnError, resolve_import_timeout_s

__all__ = ["BACKLOG", "DEFAULT_HOST", "DEFAULT_PORT", "STOP_SIGNALS", "bind", "serve"]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # the error page shows source: keep it off the network
DEFAULT_PORT = 8000
# Connections nobody accepts yet (a worker restarting) wait here; the kernel
# caps it (net.core.somaxconn, 4096 on current Linux).
BACKLOG = 1024
# Ctrl-C, and what process managers and `kill` send. Handled explicitly: a
# process started in the background by a shell without job control (`cmd &`)
# inherits SIGINT ignored, and Python then leaves it ignored.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve(
    target: str,
    *,
    factory: bool = False,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    targets: Sequence[str] | None = None,
    debounce_s: float | None = None,
    on_error: OnError = "page",
    restart_on: Sequence[str] = (),
    import_timeout_s: float | None = None,
    debug: bool = False,
) -> None:
    """Serve ``target`` under hot reload until SIGINT (Ctrl-C) or SIGTERM, then return.

    This process binds the socket and supervises a worker process that
    imports the application, serves it and reloads it; a change that cannot
    be reloaded in place is applied by a new worker, which takes over once it
    has loaded the application. The current directory is put first on
    ``sys.path`` (the worker's too), as ``flask run`` and ``uvicorn`` do.
    Called from the main thread, ``serve`` handles SIGINT and SIGTERM itself
    for its duration (even if they were ignored), stops the workers, and
    returns; the previous handlers are put back.

    Args:
        target: ``"package.module:attribute"`` of a WSGI application or factory.
        factory: the attribute is an application factory.
        host: the address to bind; a warning is logged for a non-loopback one.
        port: the port to bind; 0 picks a free one. The address actually bound is
            logged as ``serving on http://HOST:PORT`` once the first worker has
            loaded the application (or shows why it cannot).
        targets: folders or packages to reload instead of the application's own.
        debounce_s: the quiet time in seconds that ends a burst of saves;
            default from ``STATICRELOAD_DEBOUNCE_S``, else 0.05.
        on_error: see :class:`HotReloadMiddleware`.
        restart_on: file patterns (``fnmatch``) whose changes are applied by a
            restart instead of a reload.
        import_timeout_s: how long an import may run, in seconds, before it is
            reported (a 503 page naming the running line); default from
            ``STATICRELOAD_IMPORT_TIMEOUT_S``, else 30; 0 for no limit.
        debug: workers log at DEBUG level too.

    Raises:
        AppLoadError: the target is malformed, or names a module that does not
            exist, or an attribute that is missing or not callable.
        ConfigError: an option or its environment variable is not a
            non-negative number (checked before anything is imported).
        PackageNotFoundError: a folder or package in ``targets`` does not exist.
        OSError: the address cannot be bound.
    """
    settings = _settings(
        target,
        factory=factory,
        targets=targets,
        debounce_s=resolve_debounce_s(debounce_s),
        on_error=on_error,
        restart_on=restart_on,
        import_timeout_s=resolve_import_timeout_s(import_timeout_s),
        debug=debug,
    )
    with bind(host, port) as listener:
        if not is_loopback(host):
            logger.warning(
                "bound to %s: clients on other machines can reach this development "
                "server (error pages with source go to loopback clients only)",
                host,
            )
        supervisor = Supervisor(settings, listener)
        with _stop_signals_handled(supervisor.request_stop):
            supervisor.run()
    logger.info("stopped (%s)", supervisor.stop_reason)


def _settings(
    target: str,
    *,
    factory: bool,
    targets: Sequence[str] | None,
    debounce_s: float,
    on_error: OnError,
    restart_on: Sequence[str],
    import_timeout_s: float,
    debug: bool,
) -> AppSettings:
    """What workers run, checked as far as it can be without importing the application.

    Raises:
        AppLoadError: a malformed target, or no top-level module of that name.
        PackageNotFoundError: a folder or package in ``targets`` does not exist.
        ValueError: ``on_error`` is neither ``"page"`` nor ``"keep"``.
    """
    if on_error not in ("page", "keep"):
        raise ValueError(f"on_error must be 'page' or 'keep', not {on_error!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = parse_target(target).module
    targets, restart_on = django.project_options(
        module, [os.fspath(t) for t in targets] if targets else None, restart_on
    )
    watch = targets or default_targets(module)
    watched_folders(watch)
    return AppSettings(
        target=target,
        factory=factory,
        targets=watch,
        debounce_s=debounce_s,
        on_error=on_error,
        restart_on=list(restart_on),
        import_timeout_s=import_timeout_s,
        debug=debug,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port``, to hand to workers.

    Non-blocking because several processes may accept on it: the one that
    loses the race for a connection must go back to waiting, not block.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(BACKLOG)
        listener.setblocking(False)
    except BaseException:
        listener.close()
        raise
    return listener


@contextlib.contextmanager
def _stop_signals_handled(stop: Callable[[str], object]) -> Iterator[None]:
    """Make SIGINT and SIGTERM call ``stop(signal name)``.

    Outside the main thread (where Python cannot handle signals) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop(signal.Signals(signum).name)

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            # None: a handler not set from Python; the default is the best guess.
            signal.signal(signum, signal.SIG_DFL if old is None else old)
