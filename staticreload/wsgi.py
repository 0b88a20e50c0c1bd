"""The WSGI request gate: ``HotReloadMiddleware``, each request under the reloader's read lock."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

from staticreload.apps import AppTarget, default_targets, load, locate, parse_target
from staticreload.config import resolve_debounce_s
from staticreload.errorpage import error_page
from staticreload.exceptions import AppLoadError, ReloadError
from staticreload.live import LiveReload
from staticreload.reloader import Reloader, ReloadResult

__all__ = ["HotReloadMiddleware", "OnError", "StartResponse", "WSGIApplication"]

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
OnError = Literal["page", "keep"]


class HotReloadMiddleware:
    """Serves a WSGI application and reloads its code when its files change.

    Requests run in parallel; a reload waits for the requests in flight (until
    their responses are closed), and requests that arrive during a reload wait
    for it (a readers/writer lock), so no request runs against a half-reloaded
    program. After each successful reload the application is looked up again
    (and the factory called again), so the server always calls the new
    application object.

    Attributes:
        reloader: the :class:`Reloader`; ``reloader.reload_paths`` reloads by hand.
        live: the :class:`LiveReload` watching the targets, or None without
            ``autostart``.
        target: the module and attribute the application is looked up at.
        error: the :class:`ReloadError` of the last failed reload, until a
            reload succeeds; None otherwise.
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

        Raises:
            AppLoadError: the application cannot be imported or is not callable,
                or ``targets`` is missing for a callable.
            ConfigError: ``debounce_s`` or ``STATICRELOAD_DEBOUNCE_S`` is not a
                non-negative number (checked before anything is imported).
            ValueError: ``on_error`` is neither ``"page"`` nor ``"keep"``.
        """
        if on_error not in ("page", "keep"):
            raise ValueError(f"on_error must be 'page' or 'keep', not {on_error!r}")
        if autostart:
            debounce_s = resolve_debounce_s(debounce_s)
        self.on_error = on_error
        self.factory = factory
        self.error: ReloadError | None = None
        self.target, targets = _target_and_folders(app, targets)
        self.reloader = Reloader.from_targets(*targets)
        self.live = LiveReload(self.reloader, debounce_s=debounce_s) if autostart else None
        self.reloader.install()
        try:
            # Watch from before the import, holding the lock as writer meanwhile: a
            # save during a slow start-up reloads once the application is loaded.
            if self.live is not None:
                self.live.start()
            with self.reloader.lock.write():
                self._app: WSGIApplication = load(self.target, factory=factory)
                self.reloader.add_post_reload_hook(self._after_reload)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop watching (waiting for the watcher's threads) and stop recording imports."""
        if self.live is not None:
            self.live.stop()
        self.reloader.uninstall()

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

    def _after_reload(self, result: ReloadResult) -> None:
        """Runs with the reloader's writer lock held: no request sees the swap."""
        if result.error is not None:
            self.error = result.error
            return
        if not result.reloaded and self.error is None:
            return
        try:
            self._app = load(self.target, factory=self.factory)
        except AppLoadError as error:
            failure = ReloadError(str(error), module=self.target.module)
            failure.__cause__ = error.__cause__ or error
            self.error = failure
            logger.error("%s", failure)
            return
        self.error = None

    # The WSGI application.

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request under the read lock, held until the response is closed."""
        lock = self.reloader.lock
        lock.acquire_read()
        try:
            error = self.error
            if error is not None and self.on_error == "page":
                page = error_page(error, client=str(environ.get("REMOTE_ADDR", "")))
                start_response(page.status_line, page.headers)
                response: Iterable[bytes] = [page.body]
            else:
                response = self._app(environ, start_response)
        except BaseException:
            lock.release_read()
            raise
        return _Released(response, lock.release_read)


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
