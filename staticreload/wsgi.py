"""The WSGI request gate: ``HotReloadMiddleware``, each request under the reloader's read lock."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from http import HTTPStatus
from types import FrameType, TracebackType
from typing import Any, Literal

from staticreload import integrations
from staticreload.apps import AppTarget, default_targets, load, locate, parse_target
from staticreload.config import resolve_debounce_s, seconds
from staticreload.errorpage import ErrorPage, error_page
from staticreload.exceptions import AppLoadError, ReloadError, describe
from staticreload.integrations import django
from staticreload.live import LiveReload
from staticreload.reloader import Reloader, ReloadResult

__all__ = [
    "DEFAULT_IMPORT_TIMEOUT_S",
    "IMPORT_TIMEOUT_ENV",
    "HotReloadMiddleware",
    "OnError",
    "RestartHandler",
    "StartResponse",
    "WSGIApplication",
    "cold_start",
    "error_response",
    "resolve_import_timeout_s",
    "running_import_error",
]

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
OnError = Literal["page", "keep"]
RestartHandler = Callable[[str], object]
ModuleOf = Callable[[str], "str | None"]

# An import (at start or in a reload) running longer than this is reported as
# running away: an infinite loop, a deadlock, a network call that never returns.
DEFAULT_IMPORT_TIMEOUT_S = 30.0
IMPORT_TIMEOUT_ENV = "STATICRELOAD_IMPORT_TIMEOUT_S"
# How often a request waiting for a reload checks whether that reload has run
# past the import time limit.
_RUNAWAY_POLL_S = 0.25
# How long closing waits for a cold-start check that was told to stop.
_COLD_START_JOIN_S = 5.0

# A fresh interpreter importing the application as a first start would:
# sys.path as the caller has it, the factory called, the result callable.
# Stops itself at the time limit (SIGALRM) and, on Linux, when the thread that
# started it ends (PR_SET_PDEATHSIG), so that it outlives nobody.
_COLD_START_SCRIPT = """\
import ctypes, importlib, json, signal, sys
limit_s, path, module, attribute, factory = json.loads(sys.argv[1])
if sys.platform == "linux":
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
if limit_s and hasattr(signal, "alarm"):
    signal.alarm(int(limit_s) + 1)
sys.path[:] = path
found = importlib.import_module(module)
for name in attribute.split("."):
    found = getattr(found, name)
if factory:
    found = found()
sys.exit(0 if callable(found) else 3)
"""


def resolve_import_timeout_s(
    value: float | str | None = None, *, source: str = "import_timeout_s"
) -> float:
    """The import time limit in seconds: ``value``, else ``STATICRELOAD_IMPORT_TIMEOUT_S``, else 30.

    0 means no limit.

    Raises:
        ConfigError: see :func:`staticreload.config.seconds`.
    """
    return seconds(value, source=source, env=IMPORT_TIMEOUT_ENV, default=DEFAULT_IMPORT_TIMEOUT_S)


def cold_start(
    target: AppTarget, *, factory: bool = False, timeout_s: float = DEFAULT_IMPORT_TIMEOUT_S
) -> subprocess.Popen[bytes]:
    """Start a fresh interpreter that imports the application as a first start would.

    It exits with 0 if the application loads (and is callable), with another
    code if not; its output goes to pipes, for the caller to read.

    Args:
        target: the application's module and attribute.
        factory: call the attribute, as :func:`staticreload.apps.load` does.
        timeout_s: the process kills itself after about this many seconds
            (0: never).

    Returns:
        The running process.
    """
    path = [entry for entry in sys.path if isinstance(entry, str)]
    argument = json.dumps([timeout_s, path, target.module, target.attribute, factory])
    return subprocess.Popen(
        [sys.executable, "-c", _COLD_START_SCRIPT, argument],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def running_import_error(
    thread_id: int, running_s: float, limit_s: float, module_of: ModuleOf
) -> ReloadError:
    """An import that runs away, as a ``ReloadError`` pointing at the line it is running now.

    Args:
        thread_id: the thread running the import.
        running_s: how long it has been running, in seconds.
        limit_s: the import time limit, in seconds.
        module_of: file path -> the project's module there, or None.

    Returns:
        The error: its path and line are the innermost frame of the project's
        code on the thread's stack (else its innermost frame); its cause is a
        ``TimeoutError`` whose traceback is that stack, for the error page.
    """
    stack: list[FrameType] = []
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        stack.append(frame)  # innermost first
        frame = frame.f_back
    shown = [f for f in stack if module_of(f.f_code.co_filename)] or stack
    reason = (
        f"an import has been running for {running_s:.1f} s, "
        f"longer than the import time limit ({limit_s:g} s)"
    )
    trace: TracebackType | None = None
    for frame in shown:
        trace = TracebackType(trace, frame, frame.f_lasti, frame.f_lineno or 0)
    cause = TimeoutError(reason).with_traceback(trace)
    innermost = shown[0] if shown else None
    path = innermost.f_code.co_filename if innermost else None
    error = ReloadError(
        describe(cause),
        module=module_of(path) if path else None,
        path=path,
        lineno=innermost.f_lineno if innermost else None,
    )
    error.__cause__ = cause
    return error


class HotReloadMiddleware:
    """Serves a WSGI application and reloads its code when its files change.

    Requests run in parallel; a reload waits for the requests in flight (until
    their responses are closed), and requests that arrive during a reload wait
    for it (a readers/writer lock), so no request runs against a half-reloaded
    program. After each successful reload the application is looked up again
    (and the factory called again), so the server always calls the new
    application object.

    Some changes need a new process: a module that declines hot reload (the
    reloader's ``restart``), and a reload that fails where a cold start of the
    same files works (state outside the reloaded modules refuses to run them
    again; checked in the background, by a fresh interpreter importing the
    application). The middleware cannot restart the server it runs in; it
    sets :attr:`needs_restart` and calls the restart handlers.

    Attributes:
        reloader: the :class:`Reloader`; ``reloader.reload_paths`` reloads by hand.
        live: the :class:`LiveReload` watching the targets, or None without
            ``autostart``.
        target: the module and attribute the application is looked up at.
        error: the :class:`ReloadError` of the last failed reload, until a
            reload succeeds; None otherwise.
        needs_restart: True once a change can only be applied by restarting
            the process; it stays True until then.
        restart_reason: why, for the latest such change; None before.
        import_timeout_s: how long a reload may import before requests get a
            503 page naming the line it is running (0: no limit).
    """

    def __init__(
        self,
        app: str | WSGIApplication,
        *,
        targets: Sequence[str | os.PathLike[str]] | None = None,
        factory: bool = False,
        on_error: OnError = "page",
        debounce_s: float | None = None,
        autostart: bool = True,
        restart_on: Sequence[str] = (),
        import_timeout_s: float | None = None,
    ) -> None:
        """Install a reloader, start watching, and import the application.

        Args:
            app: ``"package.module:attribute"``, looked up again after each
                reload; or a WSGI callable (or factory) defined at the top level
                of a module, in which case ``targets`` is required and the
                module attribute holding it is looked up again.
            targets: packages or folders to reload (default: the application
                module's top-level package, or the folder of a loose module).
            factory: the attribute is an application factory (Flask's
                ``create_app``), called with no arguments at start and after
                each reload.
            on_error: after a failed reload, ``"page"`` answers every request
                with a 500 page naming the file, line and traceback (loopback
                clients only; others get a plain 500) until the code is fixed;
                ``"keep"`` serves the last good application.
            debounce_s: the quiet time in seconds that ends a burst of saves
                (see :class:`LiveReload`); default from
                ``STATICRELOAD_DEBOUNCE_S``, else 0.05.
            autostart: watch the targets' files and reload on every change;
                with False, reload only through ``reloader.reload_paths``.
            restart_on: file patterns whose changes need a restart (see
                :class:`Reloader`).
            import_timeout_s: how long a reload may import, in seconds, before
                requests get a 503 page naming the line it is running, and how
                long a cold-start check may take; default from
                ``STATICRELOAD_IMPORT_TIMEOUT_S``, else 30; 0 for no limit.

        Raises:
            AppLoadError: the application cannot be imported or is not callable,
                or ``targets`` is missing for a callable.
            ConfigError: ``debounce_s``, ``import_timeout_s`` or their
                environment variables are not non-negative numbers (checked
                before anything is imported).
            ValueError: ``on_error`` is neither ``"page"`` nor ``"keep"``.
        """
        if on_error not in ("page", "keep"):
            raise ValueError(f"on_error must be 'page' or 'keep', not {on_error!r}")
        if autostart:
            debounce_s = resolve_debounce_s(debounce_s)
        self.import_timeout_s = resolve_import_timeout_s(import_timeout_s)
        self.on_error = on_error
        self.factory = factory
        self.error: ReloadError | None = None
        self.needs_restart = False
        self.restart_reason: str | None = None
        self._restart_handlers: list[RestartHandler] = []
        self._reloading: tuple[int, float] | None = None  # thread, monotonic start
        if isinstance(app, str) and not targets:  # a Django project: its apps, its restarts
            module = parse_target(app).module
            targets, restart_on = django.project_options(module, None, restart_on)
        self.target, targets = _target_and_folders(app, targets)
        self._cold_start = _ColdStartCheck(self)
        self.reloader = Reloader.from_targets(*targets, restart_on=restart_on)
        self.live = LiveReload(self.reloader, debounce_s=debounce_s) if autostart else None
        self.reloader.install()
        try:
            # Watch from before the import, holding the lock as writer meanwhile: a
            # save during a slow start-up reloads once the application is loaded.
            if self.live is not None:
                self.live.start()
            with self.reloader.lock.write():
                self._app: WSGIApplication = load(self.target, factory=factory)
                integrations.install(self.reloader)
                self.reloader.add_pre_reload_hook(self._before_reload)
                self.reloader.add_post_reload_hook(self._after_reload)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop watching (waiting for the watcher's threads), checking and recording imports."""
        if self.live is not None:
            # No reload starts from now on, even while watchdog's threads wind down
            # (which can take a few hundred milliseconds).
            self.live.watcher.on_change = _ignore_changes
            self.live.stop()
        self._cold_start.close()
        self.reloader.uninstall()

    def add_restart_handler(self, handler: RestartHandler) -> None:
        """Call ``handler(reason)`` whenever a change needs a restart of the process.

        It runs in the thread that found out (the reload's, with the
        reloader's writer lock held, or the cold-start check's): it must
        return quickly, say by signalling the process manager (gunicorn
        restarts its workers on ``kill -HUP`` of its master). Each such change
        calls it again: a restart that did not happen is asked for again. If
        a restart is needed already, it is called at once.
        """
        self._restart_handlers.append(handler)
        if self.needs_restart and self.restart_reason is not None:
            _call_restart_handler(handler, self.restart_reason)

    def runaway(self) -> ReloadError | None:
        """The reload running longer than ``import_timeout_s``, as an error naming its line.

        Returns:
            None while no reload runs, while one runs within the limit, or
            without a limit.
        """
        reloading = self._reloading
        if reloading is None or not self.import_timeout_s:
            return None
        thread_id, started = reloading
        running_s = time.monotonic() - started
        if running_s < self.import_timeout_s:
            return None
        module_of = self.reloader.map.module_of
        return running_import_error(thread_id, running_s, self.import_timeout_s, module_of)

    def __enter__(self) -> HotReloadMiddleware:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def application(self) -> WSGIApplication:
        """The application requests are served by now."""
        return self._app

    def _before_reload(self, modules: tuple[str, ...]) -> None:
        """The reload starts importing: from now on it may run away."""
        if self._reloading is None:
            self._reloading = (threading.get_ident(), time.monotonic())

    def _after_reload(self, result: ReloadResult) -> None:
        """Runs with the reloader's writer lock held: no request sees the swap."""
        try:
            self._apply(result)
        finally:
            self._reloading = None

    def _apply(self, result: ReloadResult) -> None:
        if result.restart is not None:
            self._restart(result.restart)  # the reloader has logged why
            return
        if result.error is not None:
            self.error = result.error
            if result.rolled_back:
                # Code ran, so state may be at fault. (A file that does not compile
                # fails a cold start alike: nothing to check.)
                self._cold_start.start(result.changed)
            return
        self._cold_start.cancel()
        if not result.reloaded and self.error is None:
            return
        try:
            self._app = load(self.target, factory=self.factory)
        except AppLoadError as error:
            failure = ReloadError(str(error), module=self.target.module)
            failure.__cause__ = error.__cause__ or error
            self.error = failure
            logger.error("%s", failure)
            self._cold_start.start(result.changed)
            return
        self.error = None

    def _restart(self, reason: str) -> None:
        self.needs_restart, self.restart_reason = True, reason
        for handler in list(self._restart_handlers):
            _call_restart_handler(handler, reason)

    def _cold_start_works(self, changed: tuple[str, ...]) -> None:
        """A cold start of the files that failed to reload works: the reloader is at fault."""
        reason = (
            f"the reload of {', '.join(changed) or self.target} failed where a cold start works"
        )
        logger.info("%s: restart needed", reason)
        self._restart(reason)

    # The WSGI application.

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request under the read lock, held until the response is closed.

        While a reload runs away (imports for longer than ``import_timeout_s``)
        the request gets a 503 page naming the line the import is running.
        """
        lock = self.reloader.lock
        runaway = self._wait_to_read()
        if runaway is not None:
            return error_response(runaway, environ, start_response, HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            error = self.error
            response: Iterable[bytes]
            if error is not None and self.on_error == "page":
                response = error_response(error, environ, start_response)
            else:
                response = self._app(environ, start_response)
        except BaseException:
            lock.release_read()
            raise
        return _Released(response, lock.release_read)

    def _wait_to_read(self) -> ReloadError | None:
        """Take the read lock, or give up once the reload holding it runs away."""
        lock = self.reloader.lock
        if not self.import_timeout_s:
            lock.acquire_read()
            return None
        while not lock.acquire_read(timeout_s=_RUNAWAY_POLL_S):
            runaway = self.runaway()
            if runaway is not None:
                return runaway
        return None


def _ignore_changes(paths: set[str]) -> None:
    """What a closed middleware's watcher does with the changes it still reports."""


def _call_restart_handler(handler: RestartHandler, reason: str) -> None:
    try:
        handler(reason)
    except Exception:
        logger.exception("restart handler %r raised", handler)


class _ColdStartCheck:
    """At most one cold-start check at a time, in a thread of its own.

    Each :meth:`start` stops the check running (its answer would be about
    files that changed since) and starts a new one; :meth:`cancel` stops it.
    A check that answers "works" while still current tells the middleware.
    """

    def __init__(self, middleware: HotReloadMiddleware) -> None:
        self._middleware = middleware
        self._lock = threading.Lock()
        self._ticket = 0  # the current check's number; bumped to cancel it
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self, changed: tuple[str, ...]) -> None:
        """Check (again) whether a cold start works after a failed reload of ``changed``."""
        ticket = self.cancel()
        self._thread = threading.Thread(
            target=self._run, args=(ticket, changed), name="staticreload-cold-start", daemon=True
        )
        self._thread.start()

    def cancel(self) -> int:
        """Stop the running check, if any; returns the next check's ticket."""
        with self._lock:
            self._ticket += 1
            ticket, process = self._ticket, self._process
        if process is not None:
            process.kill()
        return ticket

    def close(self) -> None:
        self.cancel()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_COLD_START_JOIN_S)

    def _run(self, ticket: int, changed: tuple[str, ...]) -> None:
        middleware = self._middleware
        limit_s = middleware.import_timeout_s
        with self._lock:
            if ticket != self._ticket:
                return
            try:
                process = cold_start(
                    middleware.target, factory=middleware.factory, timeout_s=limit_s
                )
            except OSError as error:
                logger.warning("cannot start a cold-start check: %s", error)
                return
            self._process = process
        try:
            _, stderr = process.communicate(timeout=limit_s or None)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        finally:
            with self._lock:
                self._process = None
                current = ticket == self._ticket
        if not current:
            return
        if process.returncode == 0:
            middleware._cold_start_works(changed)
        else:
            last = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            logger.debug("a cold start fails too (%s): the error is the code's", last[0])


def error_response(
    error: ReloadError,
    environ: dict[str, Any],
    start_response: StartResponse,
    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR,
) -> list[bytes]:
    """Answer a WSGI request with the error page (details for loopback clients only).

    Args:
        error: what the page shows.
        environ: the request; its ``REMOTE_ADDR`` decides what the page shows.
        start_response: the server's.
        status: the response status (500 for a failure, 503 for an import
            still running).

    Returns:
        The response body.
    """
    page: ErrorPage = error_page(error, client=str(environ.get("REMOTE_ADDR", "")))
    if status != page.status:
        page = dataclasses.replace(page, status=status)
    start_response(page.status_line, page.headers)
    return [page.body]


def _target_and_folders(
    app: str | WSGIApplication, targets: Sequence[str | os.PathLike[str]] | None
) -> tuple[AppTarget, Sequence[str | os.PathLike[str]]]:
    """Where the application is looked up, and what to reload.

    Raises:
        AppLoadError: ``app`` is a malformed string, or a callable that no
            module attribute holds, or a callable without ``targets``.
    """
    if isinstance(app, str):
        target = parse_target(app)
        return target, targets or default_targets(target.module)
    if not targets:
        raise AppLoadError(repr(app), "targets are required when app is a callable")
    return locate(app), targets


class _Released:
    """A WSGI response that calls ``release`` once, when it is closed.

    PEP 3333 servers always call ``close()``; the application's own ``close``
    (Flask's teardown functions, say) runs before ``release``, so still under
    the read lock. A response with no ``close`` of its own also releases when
    used up, for callers that iterate and never close.
    """

    def __init__(self, response: Iterable[bytes], release: Callable[[], None]) -> None:
        self._response = response
        self._close: Callable[[], object] | None = getattr(response, "close", None)
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response
        if self._close is None:
            self._finish()

    def close(self) -> None:
        try:
            if self._close is not None:
                self._close()
        finally:
            self._finish()

    def _finish(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
