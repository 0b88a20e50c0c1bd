"""The ASGI request gate: ``HotReloadASGIMiddleware``, an asyncio-aware gate, and the lifespan.

A reload runs in the watcher thread, never on the event loop. The gate sits
between the two: a reload closes it before it evicts anything (waiting,
bounded, for the short requests in flight) and opens it once the new
application is in place; a request that arrives meanwhile awaits a future the
reload resolves through ``call_soon_threadsafe``, so the loop keeps serving
the WebSockets and streams that are open.

What counts as in flight: an HTTP request from the moment it enters until it
sends its response headers (``http.response.start``) or returns, whichever
comes first. The body of a streaming response (SSE, a download), background
tasks and WebSocket connections run on the code they started with, their
module objects kept alive by the references they hold, and never delay a
reload: a writer-preferring lock held by a stream would block every new
request behind one save.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Collection, Iterator, MutableMapping, Sequence
from types import TracebackType
from typing import Any, Literal

from staticreload import integrations
from staticreload.apps import AppTarget, default_targets, load, locate, parse_target
from staticreload.config import resolve_debounce_s
from staticreload.errorpage import ErrorPage, error_page
from staticreload.exceptions import AppLoadError, ReloadError, describe
from staticreload.live import LiveReload
from staticreload.reloader import Reloader, ReloadResult

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT_S",
    "ASGIApplication",
    "HotReloadASGIMiddleware",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "is_asgi_application",
    "lifespan_key",
]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]
OnError = Literal["page", "keep"]

# How long a reload waits for the HTTP requests in flight to send their
# headers before it evicts modules under them (they keep their old modules).
DEFAULT_DRAIN_TIMEOUT_S = 10.0
# How often the watcher thread, waiting for the event loop to restart the
# lifespan, checks that the loop still runs (a stopped loop never answers).
_LOOP_CHECK_S = 0.5
# How deep the search for the functions that make up a lifespan goes
# (decorators, closures of merged lifespans, startup handlers).
_LIFESPAN_SEARCH_DEPTH = 8
_WEBSOCKET_DENIAL = "websocket.http.response"
_INTERNAL_ERROR_CLOSE_CODE = 1011


def is_asgi_application(obj: object) -> bool:
    """Whether an object is an ASGI 3 application: ``async def app(scope, receive, send)``.

    Args:
        obj: a coroutine function, or an instance of a class whose ``__call__``
            is a coroutine function (Starlette, FastAPI, ASGI middleware).

    Returns:
        True if calling it takes exactly three positional arguments (or
        ``*args``) and returns a coroutine; False for a WSGI callable, a class
        (an ASGI 2 "double callable"), or anything else.
    """
    call = _call_of(obj)
    return call is not None and inspect.iscoroutinefunction(call) and _takes_positional(call, 3)


def _call_of(obj: object) -> Callable[..., object] | None:
    """What calling ``obj`` runs: the function itself, or an instance's bound ``__call__``."""
    if inspect.isclass(obj) or not callable(obj):
        return None
    if inspect.isfunction(obj) or inspect.ismethod(obj) or isinstance(obj, functools.partial):
        return obj
    call = getattr(obj, "__call__", None)  # noqa: B004  (the bound method is wanted)
    return call if callable(call) else None


def _takes_positional(function: Callable[..., object], count: int) -> bool:
    """Whether ``function`` can be called with exactly ``count`` positional arguments."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = [parameter.kind for parameter in parameters]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return True
    positional = [
        parameter
        for parameter in parameters
        if parameter.kind
        in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    return len(required) <= count <= len(positional)


def _kind_of(app: object) -> str:
    """What a callable that is not an ASGI application is, for a one-line error."""
    if inspect.isclass(app):
        return "is a class (an ASGI 2 application?), not an ASGI 3 application"
    call = _call_of(app)
    if call is not None and not inspect.iscoroutinefunction(call) and _takes_positional(call, 2):
        return "is a WSGI application; serve it with HotReloadMiddleware"
    return f"is not an ASGI application (a {type(app).__name__})"


class _Gate:
    """Lets requests in while no reload runs; a reload waits, bounded, for the counted ones.

    Shared by the event loop and the watcher thread. The loop never blocks on
    it: the lock guards a few assignments only, and a request that finds the
    gate closed awaits a future that :meth:`open` resolves with
    ``loop.call_soon_threadsafe``. Counting is per request, not per thread (a
    :class:`~staticreload.locking.ReadWriteLock` counts reads per thread, and
    every request of a loop runs in one thread).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._closed = False
        self._in_flight = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def in_flight(self) -> int:
        """How many counted requests run now."""
        with self._condition:
            return self._in_flight

    @property
    def closed(self) -> bool:
        """True while a reload runs."""
        with self._condition:
            return self._closed

    async def enter(self, *, counted: bool) -> _Ticket:
        """Wait, without blocking the loop, until no reload runs; then go in.

        Args:
            counted: count the caller as in flight until it releases its
                ticket (a reload waits for it); False only waits for the
                reload in progress.

        Returns:
            The ticket to release when the request no longer needs the code
            to stay as it is.
        """
        while True:
            with self._condition:
                if not self._closed:
                    if counted:
                        self._in_flight += 1
                    return _Ticket(self if counted else None)
                loop = asyncio.get_running_loop()
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, waiter))
            await waiter

    def leave(self) -> None:
        """One counted request is done with the code."""
        with self._condition:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._condition.notify_all()

    def close(self, timeout_s: float) -> int:
        """Stop letting requests in, and wait for the counted ones to leave.

        Args:
            timeout_s: the longest wait, in seconds (0: do not wait).

        Returns:
            How many counted requests are still in flight (0 unless the wait
            timed out).
        """
        with self._condition:
            self._closed = True
            self._condition.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)
            return self._in_flight

    def open(self) -> None:
        """Let requests in again, and wake those that wait."""
        with self._condition:
            self._closed = False
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, waiter)
            except RuntimeError:  # the loop is closed: nobody waits any more
                continue


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a cancelled request's waiter is done already
        waiter.set_result(None)


class _Ticket:
    """A request's pass through the gate; :meth:`release` stops counting it (once)."""

    __slots__ = ("_gate",)

    def __init__(self, gate: _Gate | None) -> None:
        self._gate = gate

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.leave()


class _LifespanFailedError(Exception):
    """The application answered ``lifespan.startup.failed`` or ``shutdown.failed``, or raised."""


class _LifespanRun:
    """One run of an application's lifespan protocol, in a task the middleware owns.

    The middleware plays the server's part: it sends ``lifespan.startup`` and
    ``lifespan.shutdown`` and waits for the answers, so that it can stop this
    run and start another after a reload, while the server's own lifespan
    task only sees one startup and one shutdown.

    Attributes:
        app: the application whose lifespan this is.
        state: the lifespan state (``scope["state"]``) the application filled.
        state_keys: the ``app.state`` attributes the startup set or changed.
        supported: False if the application raised before answering the
            startup (it does not speak the lifespan protocol).
    """

    def __init__(self, app: ASGIApplication, asgi: dict[str, str]) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.state_keys: frozenset[str] = frozenset()
        self.supported = True
        self._asgi = asgi
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # Each resolves to None (complete) or the failure's message.
        self._startup: asyncio.Future[str | None] | None = None
        self._shutdown: asyncio.Future[str | None] | None = None

    async def start(self) -> None:
        """Run the startup; return once the application answered.

        Raises:
            _LifespanFailedError: the application answered ``lifespan.startup.failed``.
        """
        loop = asyncio.get_running_loop()
        self._startup, self._shutdown = loop.create_future(), loop.create_future()
        before = dict(_state_namespace(self.app) or {})
        self._task = loop.create_task(self._run(), name="staticreload-lifespan")
        self._inbox.put_nowait({"type": "lifespan.startup"})
        failure = await self._startup
        if failure is not None:
            raise _LifespanFailedError(failure)
        after = _state_namespace(self.app) or {}
        self.state_keys = frozenset(
            key for key, value in after.items() if key not in before or before[key] is not value
        )

    async def stop(self) -> None:
        """Run the shutdown; return once the application answered.

        Raises:
            _LifespanFailedError: the application answered
                ``lifespan.shutdown.failed``, or raised.
        """
        if self._task is None or self._shutdown is None or not self.supported:
            return
        if not self._task.done():
            self._inbox.put_nowait({"type": "lifespan.shutdown"})
        failure = await self._shutdown
        if failure is not None:
            raise _LifespanFailedError(failure)

    async def _run(self) -> None:
        scope: Scope = {"type": "lifespan", "asgi": self._asgi, "state": self.state}
        failure: str | None = None
        try:
            await self.app(scope, self._inbox.get, self._send)
        except Exception as error:
            failure = describe(error)
            if self._startup is not None and not self._startup.done():
                self.supported = False
                failure = None
                logger.info("the application does not support the lifespan protocol (%s)", error)
        finally:
            for future in (self._startup, self._shutdown):
                if future is not None and not future.done():
                    future.set_result(failure)

    async def _send(self, message: Message) -> None:
        kind = str(message["type"])
        future = self._startup if kind.startswith("lifespan.startup.") else self._shutdown
        if future is None or future.done():
            return
        if kind.endswith(".failed"):
            future.set_result(str(message.get("message") or kind))
        else:
            future.set_result(None)


def _innermost(app: object) -> object:
    """The application inside ASGI middleware (``.app`` attributes), where the lifespan lives."""
    for _ in range(_LIFESPAN_SEARCH_DEPTH):
        if hasattr(app, "router") or hasattr(app, "lifespan_context"):
            return app
        inner = getattr(app, "app", None)
        if inner is None or not callable(inner):
            return app
        app = inner
    return app


def _state_namespace(app: object) -> dict[str, Any] | None:
    """The dictionary behind Starlette's ``app.state``, or None if the app has none."""
    state = getattr(_innermost(app), "state", None)
    namespace = getattr(state, "_state", None)
    return namespace if isinstance(namespace, dict) else None


def _lifespan_roots(app: object) -> list[object]:
    """What the lifespan of an application is made of: a lifespan context, startup handlers."""
    inner = _innermost(app)
    router = getattr(inner, "router", None)
    roots: list[object] = []
    for holder in (inner, router):
        if holder is None:
            continue
        roots.append(getattr(holder, "lifespan_context", None))
        roots.extend(getattr(holder, "on_startup", None) or ())
        roots.extend(getattr(holder, "on_shutdown", None) or ())
    if not any(root is not None for root in roots):
        roots.append(inner)  # a plain ASGI callable answers the lifespan scope itself
    return roots


def _lifespan_code(app: object) -> Iterator[object]:
    """The functions and classes the lifespan runs: decorators unwrapped, closures followed."""
    seen: set[int] = set()
    todo: list[tuple[object, int]] = [(root, 0) for root in _lifespan_roots(app)]
    while todo:
        item, depth = todo.pop()
        if item is None or depth > _LIFESPAN_SEARCH_DEPTH or id(item) in seen:
            continue
        seen.add(id(item))
        yield from _code_and_parts(item, depth, todo)


def _code_and_parts(item: object, depth: int, todo: list[tuple[object, int]]) -> Iterator[object]:
    """Yield ``item``'s code (a function or a class); queue what it delegates to."""
    if inspect.ismethod(item):
        todo.append((item.__func__, depth + 1))
        todo.append((item.__self__, depth + 1))
    elif isinstance(item, functools.partial):
        todo.append((item.func, depth + 1))
    elif inspect.isfunction(item):
        yield item
        todo.append((getattr(item, "__wrapped__", None), depth + 1))
        for cell in item.__closure__ or ():
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if callable(content) and not inspect.isclass(content):
                todo.append((content, depth + 1))
    elif inspect.isclass(item):
        yield item
    elif callable(item) or hasattr(item, "__aenter__"):
        yield type(item)
        # FastAPI's default lifespan runs its router's startup and shutdown handlers.
        router = getattr(item, "_router", None)
        for handler in (*getattr(router, "on_startup", ()), *getattr(router, "on_shutdown", ())):
            todo.append((handler, depth + 1))


def lifespan_key(app: object, is_project: Callable[[str], bool]) -> frozenset[tuple[str, str]]:
    """The project code an application's lifespan runs: ``(module, qualified name)`` pairs.

    Args:
        app: the application (ASGI middleware around it is looked through).
        is_project: whether a module name belongs to the reloaded project;
            the framework's own code never changes.

    Returns:
        The pairs; empty when the lifespan runs no project code (the default one).
    """
    pairs = set()
    for code in _lifespan_code(app):
        module = getattr(code, "__module__", None)
        if isinstance(module, str) and is_project(module):
            pairs.add((module, str(getattr(code, "__qualname__", ""))))
    return frozenset(pairs)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    if isinstance(client, (tuple, list)) and client:
        return str(client[0])
    return ""


def _raw_headers(page: ErrorPage) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in page.headers
    ]


class HotReloadASGIMiddleware:
    """Serves an ASGI application and reloads its code when its files change.

    Reloads run in the watcher thread and never block the event loop. HTTP
    requests run concurrently; a reload waits (at most ``drain_timeout_s``)
    for those in flight to send their response headers, and requests that
    arrive during a reload await it without blocking the loop, then run the
    new code. Streaming responses (SSE), background tasks and WebSockets keep
    the code they started with and never delay a reload; new ones get the new
    code. After each successful reload the application is looked up again
    (the factory called again).

    Lifespan: the middleware answers the server's ``lifespan`` scope itself
    and runs the application's lifespan in a task it owns; the startup runs
    once. After a reload, if the lifespan's own code (the modules that define
    the lifespan function or startup handlers, see :func:`lifespan_key`) was
    not re-imported, nothing runs again: the lifespan state
    (``scope["state"]`` in requests) is kept, and the ``app.state``
    attributes the startup set are copied to the new application object. If
    that code was re-imported, the old lifespan shuts down and the new one
    starts, before any request is let in.

    Attributes:
        reloader: the :class:`Reloader`; ``reloader.reload_paths`` reloads by hand.
        live: the :class:`LiveReload` watching the targets, or None without
            ``autostart``.
        target: the module and attribute the application is looked up at.
        error: the :class:`ReloadError` of the last failed reload (or lifespan
            startup after a reload), until a reload succeeds; None otherwise.
        lifespan_runs: how many times the application's lifespan started.
    """

    def __init__(
        self,
        app: str | ASGIApplication,
        *,
        targets: Sequence[str | os.PathLike[str]] | None = None,
        factory: bool = False,
        on_error: OnError = "page",
        debounce_s: float | None = None,
        autostart: bool = True,
        drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
    ) -> None:
        """Install a reloader, start watching, and import the application.

        Args:
            app: ``"package.module:attribute"``, looked up again after each
                reload; or an ASGI application (or factory) defined at the top
                level of a module, in which case ``targets`` is required.
            targets: packages or folders to reload (default: the application
                module's top-level package, or the folder of a loose module).
            factory: the attribute is an application factory, called with no
                arguments at start and after each reload.
            on_error: after a failed reload, ``"page"`` answers every HTTP
                request with a 500 page naming the file, line and traceback
                (loopback clients only; others get a plain 500) and refuses
                WebSockets, until the code is fixed; ``"keep"`` serves the
                last good application.
            debounce_s: the quiet time in seconds that ends a burst of saves
                (see :class:`LiveReload`); default from
                ``STATICRELOAD_DEBOUNCE_S``, else 0.05.
            autostart: watch the targets' files and reload on every change;
                with False, reload only through ``reloader.reload_paths``.
            drain_timeout_s: how long, in seconds, a reload waits for HTTP
                requests in flight to send their headers before it goes on
                under them (they keep their old modules).

        Raises:
            AppLoadError: the application cannot be imported, is not an ASGI
                application (a WSGI one is named as such), or ``targets`` is
                missing for a callable.
            ConfigError: ``debounce_s`` or ``STATICRELOAD_DEBOUNCE_S`` is not a
                non-negative number (checked before anything is imported).
            ValueError: ``on_error`` is neither ``"page"`` nor ``"keep"``, or
                ``drain_timeout_s`` is negative.
        """
        if on_error not in ("page", "keep"):
            raise ValueError(f"on_error must be 'page' or 'keep', not {on_error!r}")
        if drain_timeout_s < 0:
            raise ValueError(f"drain_timeout_s must not be negative, not {drain_timeout_s!r}")
        if autostart:
            debounce_s = resolve_debounce_s(debounce_s)
        self.on_error = on_error
        self.factory = factory
        self.drain_timeout_s = drain_timeout_s
        self.error: ReloadError | None = None
        self.lifespan_runs = 0
        self.target, targets = _target_and_folders(app, targets)
        self.reloader = Reloader.from_targets(*targets)
        self.live = LiveReload(self.reloader, debounce_s=debounce_s) if autostart else None
        self._gate = _Gate()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._lifespan: _LifespanRun | None = None
        self._lifespan_lock: asyncio.Lock | None = None
        self._lifespan_serving = False  # the server started the lifespan and has not stopped it
        self._asgi_info: dict[str, str] = {"version": "3.0", "spec_version": "2.0"}
        self.reloader.install()
        try:
            if self.live is not None:
                self.live.start()
            with self.reloader.lock.write():
                self._app: ASGIApplication = self._load()
                # Order matters: the gate closes before the integrations touch
                # shared state (MetaData), and opens after they have restored it.
                self.reloader.add_pre_reload_hook(self._before_reload)
                integrations.install(self.reloader)
                self.reloader.add_post_reload_hook(self._after_reload)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop watching (waiting for the watcher's threads) and stop recording imports.

        The application's lifespan is stopped by the server's lifespan
        shutdown, not here.
        """
        if self.live is not None:
            self.live.stop()
        self.reloader.uninstall()

    def __enter__(self) -> HotReloadASGIMiddleware:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def application(self) -> ASGIApplication:
        """The application requests are served by now."""
        return self._app

    @property
    def reloading(self) -> bool:
        """True while a reload runs: new requests wait for it."""
        return self._gate.closed

    @property
    def in_flight(self) -> int:
        """How many HTTP requests are in flight (entered, headers not sent yet)."""
        return self._gate.in_flight

    def _load(self) -> ASGIApplication:
        """Import the target and check it is an ASGI application.

        Raises:
            AppLoadError: the target cannot be loaded or is not ASGI.
        """
        app = load(self.target, factory=self.factory)
        if not is_asgi_application(app):
            raise AppLoadError(str(self.target), _kind_of(app))
        loaded: ASGIApplication = app
        return loaded

    # Reloading (the watcher thread, the reloader's writer lock held).

    def _before_reload(self, modules: tuple[str, ...]) -> None:
        """Close the gate and wait, bounded, for the HTTP requests in flight."""
        on_loop = self._loop_thread == threading.get_ident()
        still = self._gate.close(0.0 if on_loop else self.drain_timeout_s)
        if still:
            logger.warning(
                "%d request(s) still running after %.1f s: reloading %s under them",
                still,
                self.drain_timeout_s,
                ", ".join(modules),
            )

    def _after_reload(self, result: ReloadResult) -> None:
        """Swap the application (and the lifespan if its code changed), then open the gate."""
        try:
            self._apply(result)
        finally:
            self._gate.open()

    def _apply(self, result: ReloadResult) -> None:
        if result.error is not None:
            self.error = result.error
            return
        if not result.reloaded and self.error is None:
            return
        previous = self._app
        try:
            app = self._load()
        except AppLoadError as error:
            self.error = _as_reload_error(error, self.target.module)
            logger.error("%s", self.error)
            return
        self._app = app
        self.error = None
        if self._lifespan_needs_restart(previous, app, result.reloaded):
            failure = self._on_loop(self._restart_lifespan())
            if failure is not None:
                self.error = ReloadError(
                    f"the application's lifespan failed to start: {failure}",
                    module=self.target.module,
                )
                logger.error("%s", self.error)
        elif self._lifespan is not None:
            _carry_state(previous, app, self._lifespan.state_keys)

    def _lifespan_needs_restart(
        self, previous: object, app: object, reloaded: Collection[str]
    ) -> bool:
        """Whether the lifespan's code changed: its modules ran again, or it is other code."""
        if not self._lifespan_serving:
            return False
        if self._lifespan is None:
            return True  # its last start failed: try again with the new code
        is_project = self.reloader.map.__contains__
        old, new = lifespan_key(previous, is_project), lifespan_key(app, is_project)
        reloaded = set(reloaded)
        return old != new or any(module in reloaded for module, _ in old | new)

    def _on_loop(self, coroutine: Any) -> str | None:
        """Run a coroutine on the server's loop from the watcher thread; its result.

        Waits as long as the loop runs: a lifespan startup may load a model.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return None
        if self._loop_thread == threading.get_ident():  # a reload called from the loop itself
            loop.create_task(coroutine)
            return None
        future: concurrent.futures.Future[str | None] = asyncio.run_coroutine_threadsafe(
            coroutine, loop
        )
        while True:
            try:
                return future.result(timeout=_LOOP_CHECK_S)
            except concurrent.futures.TimeoutError:
                if loop.is_closed() or not loop.is_running():
                    future.cancel()
                    return None

    # The lifespan (on the event loop).

    async def _restart_lifespan(self) -> str | None:
        """Shut the running lifespan down and start the current application's.

        Returns:
            Why the new lifespan failed to start, or None.
        """
        assert self._lifespan_lock is not None
        async with self._lifespan_lock:
            if not self._lifespan_serving:
                return None
            old, self._lifespan = self._lifespan, None
            if old is not None:
                logger.info("the lifespan's code changed: shutting the lifespan down")
                try:
                    await old.stop()
                except _LifespanFailedError as failure:
                    logger.warning("the old lifespan's shutdown failed: %s", failure)
            return await self._start_lifespan()

    async def _start_lifespan(self) -> str | None:
        """Start the current application's lifespan (the lifespan lock held)."""
        run = _LifespanRun(self._app, self._asgi_info)
        try:
            await run.start()
        except _LifespanFailedError as failure:
            return str(failure) or "lifespan.startup.failed"
        self._lifespan = run
        if run.supported:
            self.lifespan_runs += 1
        return None

    async def _serve_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the server's lifespan scope: one startup, one shutdown."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._lifespan_lock = asyncio.Lock()
        asgi = scope.get("asgi")
        if isinstance(asgi, dict):
            self._asgi_info = {**asgi, "spec_version": str(asgi.get("spec_version", "2.0"))}
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        async with self._lifespan_lock:
            self._lifespan_serving = True
            failure = await self._start_lifespan()
            if failure is not None:
                self._lifespan_serving = False
                await send({"type": "lifespan.startup.failed", "message": failure})
                return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        async with self._lifespan_lock:
            self._lifespan_serving = False
            run, self._lifespan = self._lifespan, None
            try:
                if run is not None:
                    await run.stop()
            except _LifespanFailedError as failure:
                await send({"type": "lifespan.shutdown.failed", "message": str(failure)})
                return
        await send({"type": "lifespan.shutdown.complete"})

    # The ASGI application.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection: HTTP counted until its headers, others only gated."""
        if scope["type"] == "lifespan":
            await self._serve_lifespan(scope, receive, send)
            return
        if self._loop is None:
            self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        http = scope["type"] == "http"
        ticket = await self._gate.enter(counted=http)
        try:
            app, error = self._app, self.error
            if error is not None and self.on_error == "page":
                await _send_error(error, scope, receive, send)
                return
            run = self._lifespan
            if run is not None and run.supported:
                # As a server does: each request gets a shallow copy of the lifespan state.
                scope = {**scope, "state": {**(scope.get("state") or {}), **run.state}}
            if http:
                send = _releasing_on_headers(send, ticket)
            await app(scope, receive, send)
        finally:
            ticket.release()


def _releasing_on_headers(send: Send, ticket: _Ticket) -> Send:
    """``send`` that stops counting the request once its response starts."""

    async def send_and_release(message: Message) -> None:
        if message["type"] == "http.response.start":
            ticket.release()
        await send(message)

    return send_and_release


async def _send_error(error: ReloadError, scope: Scope, receive: Receive, send: Send) -> None:
    """The 500 page for HTTP; for a WebSocket, the page as its denial response, or a close."""
    page = error_page(error, client=_client(scope))
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": page.status.value,
                "headers": _raw_headers(page),
            }
        )
        await send({"type": "http.response.body", "body": page.body})
        return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    if _WEBSOCKET_DENIAL in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": page.status.value,
                "headers": _raw_headers(page),
            }
        )
        await send({"type": "websocket.http.response.body", "body": page.body})
    else:
        await send({"type": "websocket.close", "code": _INTERNAL_ERROR_CLOSE_CODE})


def _carry_state(previous: object, app: object, keys: Collection[str]) -> None:
    """Copy the ``app.state`` attributes the lifespan set to a new application object."""
    old, new = _state_namespace(previous), _state_namespace(app)
    if old is None or new is None or old is new:
        return
    for key in keys:
        if key in old:
            new[key] = old[key]


def _as_reload_error(error: AppLoadError, module: str) -> ReloadError:
    failure = ReloadError(str(error), module=module)
    failure.__cause__ = error.__cause__ or error
    return failure


def _target_and_folders(
    app: str | ASGIApplication, targets: Sequence[str | os.PathLike[str]] | None
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
