"""``HotReloadMiddleware``: a WSGI application that always runs the latest good code."""

from __future__ import annotations

import html
import importlib
import importlib.util
import ipaddress
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from staticreload.exceptions import AppLoadError, ReloadError, describe
from staticreload.reloader import Reloader, ReloadResult

__all__ = ["HotReloadMiddleware", "WSGIApplication", "parse_target"]

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
OnError = Literal["page", "keep"]


def parse_target(target: str) -> tuple[str, str]:
    """Split ``"package.module:attribute"`` into its module and attribute.

    Raises:
        AppLoadError: the string is not of that form.
    """
    module, sep, attribute = target.partition(":")
    names = [*module.split("."), *attribute.split(".")]
    if not sep or not all(name.isidentifier() for name in names):
        raise AppLoadError(target, "expected 'package.module:attribute'")
    return module, attribute


def default_targets(module: str) -> list[str]:
    """What to watch for an application module: its top-level package, or its folder.

    The module is found without being imported.

    Raises:
        AppLoadError: the module cannot be found.
    """
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise AppLoadError(module, f"no module named {top!r}")
    # A package's origin is its __init__.py; a loose module's is the module: the
    # folder holding either is the target.
    return [str(Path(spec.origin).parent)]


class HotReloadMiddleware:
    """Serves a WSGI application and reloads its code when its files change.

    Requests run in parallel; a reload waits for the requests in flight, and
    requests that arrive during a reload wait for it (a readers/writer lock), so
    no request runs against a half-reloaded program. After each successful
    reload the application is looked up again (and the factory called again),
    so the server always calls the new application object.

    Attributes:
        reloader: the :class:`Reloader`; ``reloader.reload_paths`` reloads by hand.
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
        watch: bool = True,
    ) -> None:
        """Install a reloader, import the application, and start watching.

        Args:
            app: ``"package.module:attribute"``, looked up again after each reload;
                or a WSGI callable, in which case ``targets`` is required and the
                callable is looked up again in its module by identity.
            targets: packages or folders to reload (default: the application
                module's top-level package, or the folder of a loose module).
            factory: the attribute is an application factory (Flask's
                ``create_app``), called with no arguments after each reload.
            on_error: after a failed reload, ``"page"`` answers every request
                with a 500 page naming the file, line and traceback (loopback
                clients only; others get a plain 500) until the code is fixed;
                ``"keep"`` serves the last good application.
            debounce_s: see :class:`Reloader`, in seconds.
            watch: start a watcher thread; with False, reload only through
                ``reloader.reload_paths``.

        Raises:
            AppLoadError: the application cannot be imported or is not callable,
                or ``targets`` is missing for a callable.
            ValueError: ``on_error`` is neither ``"page"`` nor ``"keep"``.
        """
        if on_error not in ("page", "keep"):
            raise ValueError(f"on_error must be 'page' or 'keep', not {on_error!r}")
        self.on_error = on_error
        self.factory = factory
        self.error: ReloadError | None = None
        if isinstance(app, str):
            self._module, self._attribute = parse_target(app)
            self._target = app
            targets = targets or default_targets(self._module)
        else:
            if not targets:
                raise AppLoadError(repr(app), "targets are required when app is a callable")
            self._module, self._attribute = _locate(app)
            self._target = f"{self._module}:{self._attribute}"
        self.reloader = Reloader(*targets, debounce_s=debounce_s)
        self.reloader.install()
        self._app: WSGIApplication = app if callable(app) else self._load()
        self.reloader.add_post_reload_hook(self._after_reload)
        if watch:
            self.reloader.start()

    def close(self) -> None:
        """Stop the watcher and stop recording imports."""
        self.reloader.stop()
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

    def _load(self) -> WSGIApplication:
        """Import the module, take the attribute, call the factory.

        Raises:
            AppLoadError: any of that fails.
        """
        found = self._attribute_of(self._import_module())
        if self.factory:
            if not callable(found):
                raise AppLoadError(self._target, "the factory is not callable")
            try:
                found = found()
            except Exception as error:
                raise AppLoadError(self._target, f"the factory raised {describe(error)}") from error
        if not callable(found):
            raise AppLoadError(self._target, "not a callable WSGI application")
        application: WSGIApplication = found
        return application

    def _import_module(self) -> object:
        try:
            return importlib.import_module(self._module)
        except ModuleNotFoundError as error:
            if error.name is not None and self._module.startswith(error.name):
                raise AppLoadError(self._target, f"no module named {error.name!r}") from error
            raise AppLoadError(self._target, describe(error)) from error
        except Exception as error:
            raise AppLoadError(self._target, describe(error)) from error

    def _attribute_of(self, module: object) -> object:
        found = module
        for name in self._attribute.split("."):
            if not hasattr(found, name):
                raise AppLoadError(self._target, f"module {self._module!r} has no {name!r}")
            found = getattr(found, name)
        return found

    def _after_reload(self, result: ReloadResult) -> None:
        """Runs with the reloader's writer lock held: no request sees the swap."""
        if result.error is not None:
            self.error = result.error
            return
        if not result.reloaded and self.error is None:
            return
        try:
            self._app = self._load()
        except AppLoadError as error:
            failure = ReloadError(str(error), module=self._module)
            failure.__cause__ = error.__cause__ or error
            self.error = failure
            logger.error("%s", failure)
            return
        self.error = None

    # The WSGI application.

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        lock = self.reloader.lock
        lock.acquire_read()
        try:
            error = self.error
            if error is not None and self.on_error == "page":
                response: Iterable[bytes] = _error_page(error, environ, start_response)
            else:
                response = self._app(environ, start_response)
        except BaseException:
            lock.release_read()
            raise
        return _Released(response, lock.release_read)


class _Released:
    """A WSGI response that calls ``release`` once, when it is closed or used up."""

    def __init__(self, response: Iterable[bytes], release: Callable[[], None]) -> None:
        self._response = response
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response
        finally:
            self._finish()

    def close(self) -> None:
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def _finish(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def _locate(app: object) -> tuple[str, str]:
    """Where a WSGI callable lives: a module and an attribute holding it."""
    module_name = getattr(app, "__module__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    if module is not None:
        for name, value in vars(module).items():
            if value is app:
                return module.__name__, name
    raise AppLoadError(repr(app), "cannot find the module attribute that holds this callable")


def _is_loopback(environ: dict[str, Any]) -> bool:
    try:
        return ipaddress.ip_address(str(environ.get("REMOTE_ADDR", ""))).is_loopback
    except ValueError:
        return False


def _error_page(
    error: ReloadError, environ: dict[str, Any], start_response: StartResponse
) -> list[bytes]:
    if _is_loopback(environ):
        cause = error.__cause__ or error
        trace = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
        where = f"{error.path or error.module or ''}" + (
            f", line {error.lineno}" if error.lineno is not None else ""
        )
        body = (
            "<!doctype html><title>Reload failed</title>"
            "<h1>Reload failed: the last good code is still loaded</h1>"
            f"<p><b>{html.escape(where)}</b></p><p>{html.escape(str(error))}</p>"
            f"<pre>{html.escape(trace)}</pre>"
            "<p>Fix the file and save: the next good edit recovers.</p>"
        ).encode()
        content_type = "text/html; charset=utf-8"
    else:
        body, content_type = b"Internal Server Error\n", "text/plain; charset=utf-8"
    start_response(
        "500 Internal Server Error",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))],
    )
    return [body]
