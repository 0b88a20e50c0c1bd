"""The worker process: imports the application, serves it on the supervisor's socket, reports."""

from __future__ import annotations

import ctypes
import dataclasses
import faulthandler
import gc
import json
import logging
import os
import queue
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from staticreload import diagnostics, sources
from staticreload.apps import parse_target
from staticreload.exceptions import AppLoadError, ModuleImportError, ReloadError, describe
from staticreload.wsgi import (
    HotReloadMiddleware,
    OnError,
    StartResponse,
    error_response,
    running_import_error,
)

__all__ = [
    "BAD_TARGET",
    "EXIT_BAD_TARGET",
    "FAILED",
    "KINDS",
    "READY",
    "RESTART",
    "SERVE_SIGNAL",
    "STUCK",
    "Channel",
    "Gate",
    "RunningServer",
    "ServerKind",
    "ThreadingWSGIServer",
    "WorkerSpec",
    "die_with_parent",
    "is_bad_target",
    "main",
    "project_module_of",
    "serve_page",
    "serve_wsgiref",
]

logger = logging.getLogger(__name__)

ModuleOf = Callable[[str], "str | None"]

# What a worker tells the supervisor, one JSON object per line on its pipe.
READY = "ready"  # serving the application (also: a runaway reload has finished)
FAILED = "failed"  # the application cannot be loaded; the error page is served
STUCK = "stuck"  # an import runs past the time limit; a 503 page is served
RESTART = "restart"  # a change needs a new worker
BAD_TARGET = "bad_target"  # the command line names no application; the worker exits

EXIT_BAD_TARGET = 2
# How long a stopping worker waits for the requests it has accepted.
STOP_DRAIN_S = 5.0
# How often a serving worker checks whether a reload runs past the time limit.
_TICK_S = 0.25
# Linux's prctl(PR_SET_PDEATHSIG, signal): the kernel sends the signal when the parent ends.
_PR_SET_PDEATHSIG = 1
# How often a server's loop checks whether it was told to stop.
_POLL_S = 0.1
_STOP = "stop"
_LOADED = "loaded"
_SERVE = "serve"  # the supervisor chose this worker, which cannot load the application
# The supervisor's word to a worker that reported FAILED or STUCK: it serves now
# (its page). Until then the previous worker answers, as ``--on-error keep`` wants.
SERVE_SIGNAL = signal.SIGUSR1


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, passed by the supervisor as one JSON argument.

    Attributes:
        target: ``"package.module:attribute"``.
        factory: the attribute is an application factory.
        targets: what to reload (folders or packages), resolved by the supervisor.
        debounce_s: the watcher's quiet time, in seconds.
        on_error: ``"page"`` or ``"keep"``.
        restart_on: file patterns whose changes need a restart.
        import_timeout_s: the import time limit, in seconds (0: none).
        first_start: no worker has loaded (or failed to load) the application
            yet: a target that names nothing is the command line's error.
        listen_fd: the listening socket, bound by the supervisor.
        control_fd: the write end of the pipe to the supervisor.
        lifeline_fd: the read end of a pipe whose write end only the supervisor
            holds: end of file means the supervisor is gone.
        fault_fd: a file for :mod:`faulthandler`'s report of a fatal crash.
        supervisor_pid: the parent the worker must not outlive.
        debug: log at DEBUG level.
        kind: the server kind (``"wsgi"``).
        start_fd: for a spare worker, the read end of a pipe: it waits (its
            imports done) for a byte there before it loads the application,
            and exits at end of file; -1 for a worker that starts at once.
    """

    target: str
    factory: bool
    targets: list[str]
    debounce_s: float
    on_error: str
    restart_on: list[str]
    import_timeout_s: float
    first_start: bool
    listen_fd: int
    control_fd: int
    lifeline_fd: int
    fault_fd: int
    supervisor_pid: int
    debug: bool = False
    kind: str = "wsgi"
    start_fd: int = -1

    def to_json(self) -> str:
        """The spec as the worker's command-line argument."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        """The spec from :meth:`to_json`'s output."""
        return cls(**json.loads(text))


class Channel:
    """The worker's end of its pipe to the supervisor: one JSON object per line."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()  # restart requests come from other threads

    def send(self, event: str, **fields: object) -> bool:
        """Send one message; False if the supervisor is gone."""
        data = (json.dumps({"event": event, **fields}) + "\n").encode()
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError:
                return False
        return True


def die_with_parent(parent_pid: int, lifeline_fd: int, on_eof: Callable[[], object]) -> None:
    """Make sure this process ends when the supervisor does, even by SIGKILL.

    On Linux the kernel kills it (``PR_SET_PDEATHSIG``); everywhere, a thread
    waits for the end of file of the lifeline pipe and calls ``on_eof``.

    Args:
        parent_pid: the supervisor; if it is already gone, exit at once.
        lifeline_fd: the read end of the supervisor's lifeline pipe.
        on_eof: called (in that thread) when the supervisor is gone.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # it died before the line above
        os._exit(1)

    def watch() -> None:
        while True:
            try:
                if not os.read(lifeline_fd, 1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        on_eof()

    threading.Thread(target=watch, name="staticreload-lifeline", daemon=True).start()


def project_module_of(targets: Sequence[str]) -> ModuleOf:
    """File path -> the module of the targets at that path, or None; nothing is imported."""
    trees = sources.resolve_targets(targets, None)

    def module_of(path: str) -> str | None:
        found = sources.module_for_path(Path(path).resolve(), trees)
        return found[0] if found else None

    return module_of


def is_bad_target(error: AppLoadError, *, factory: bool) -> bool:
    """Whether a first start failed because the command line names no application.

    Bad input: the target's module does not exist (a module missing deeper
    down is a failing import of the project), or the module imported but the
    attribute is missing or not callable. Anything the project's code raised,
    and a factory returning something that is no application, is the
    code's error, which an edit fixes.
    """
    cause = error.__cause__
    if cause is None:
        return not (factory and error.reason.startswith("not a callable"))
    return isinstance(cause, ModuleNotFoundError) and error.reason.startswith("no module named")


# Serving


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the ``logging`` module instead of raw stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, on a socket bound and listening already.

    Several processes may accept on the same socket; the socket is
    non-blocking, so the one that loses the race for a connection goes back
    to waiting instead of blocking in ``accept``. It counts the requests in
    flight, so that a server being replaced can finish them.
    """

    daemon_threads = True  # the process never waits for a stuck request at exit

    def __init__(self, listener: socket.socket, app: Any) -> None:
        """Args:
        listener: a bound, listening socket; the server owns it (closes it).
        app: the WSGI application.
        """
        host, port = listener.getsockname()[:2]
        super().__init__((host, port), _QuietHandler, bind_and_activate=False)
        self.socket.close()  # the one socketserver made; the supervisor bound ours
        self.socket = listener
        self.server_name, self.server_port = host, port  # not getfqdn: no DNS lookup
        self.setup_environ()
        self.set_app(app)
        self._idle = threading.Condition()
        self._in_flight = 0

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        connection.setblocking(True)
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._finished()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._finished()

    def _finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is in flight; False if ``timeout_s`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout_s)


class RunningServer(Protocol):
    """A server running in threads of its own."""

    def stop(self, timeout_s: float) -> None:
        """Stop accepting, wait at most ``timeout_s`` for the requests in flight, close."""


class _WSGIRefServer:
    def __init__(self, server: ThreadingWSGIServer) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name="staticreload-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        self._server.shutdown()  # returns once the loop accepts nothing more
        if not self._server.wait_idle(timeout_s):
            logger.warning("stopping with requests still in flight after %.1f s", timeout_s)
        self._thread.join(timeout_s)
        self._server.server_close()


def serve_wsgiref(listener: socket.socket, app: Any) -> RunningServer:
    """Serve a WSGI application with wsgiref's threaded server, in a thread.

    Args:
        listener: a listening socket (a duplicate: the server closes it).
        app: the WSGI application.

    Returns:
        The running server.
    """
    return _WSGIRefServer(ThreadingWSGIServer(listener, app))


def serve_page(listener: socket.socket, error: ReloadError, status: HTTPStatus) -> RunningServer:
    """Answer every request with the error page, until stopped.

    Args:
        listener: a listening socket (a duplicate: the server closes it).
        error: what the page shows (to loopback clients).
        status: 500 for a failure, 503 for an import still running.

    Returns:
        The running server.
    """

    def page(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return error_response(error, environ, start_response, status)

    return serve_wsgiref(listener, page)


class Gate(Protocol):
    """What a worker needs of a hot-reload middleware, whatever the protocol."""

    def add_restart_handler(self, handler: Callable[[str], object]) -> None:
        """Call ``handler(reason)`` when a change needs a new worker."""

    def runaway(self) -> ReloadError | None:
        """The reload running past the import time limit, or None."""

    def close(self) -> None:
        """Stop watching and reloading."""


class ServerKind(NamedTuple):
    """How to load and serve one kind of application.

    Attributes:
        open: imports the application under hot reload (in the loader thread).
        serve: starts a server for it on a socket.
    """

    open: Callable[[WorkerSpec], Gate]
    serve: Callable[[socket.socket, Any], RunningServer]


def _open_wsgi(spec: WorkerSpec) -> Gate:
    on_error: OnError = "keep" if spec.on_error == "keep" else "page"
    return HotReloadMiddleware(
        spec.target,
        targets=spec.targets,
        factory=spec.factory,
        on_error=on_error,
        debounce_s=spec.debounce_s,
        restart_on=spec.restart_on,
        import_timeout_s=spec.import_timeout_s,
    )


# One entry per server kind; an ASGI kind (the ASGI middleware under uvicorn's
# ``Server.serve(sockets=[listener])``) is one more line.
KINDS: dict[str, ServerKind] = {"wsgi": ServerKind(_open_wsgi, serve_wsgiref)}


# The worker


class _Worker:
    """One worker's life: load (bounded in time), then serve and report, until told to stop."""

    def __init__(self, spec: WorkerSpec, channel: Channel, events: queue.SimpleQueue[Any]) -> None:
        self.spec = spec
        self.kind = KINDS[spec.kind]
        self.channel = channel
        self.events = events
        self.listener = socket.socket(fileno=spec.listen_fd)
        # Non-blocking, as the supervisor made it (O_NONBLOCK belongs to the socket
        # all processes share); said again so that dup() keeps it so.
        self.listener.setblocking(False)
        self.module_of = project_module_of(spec.targets)
        self.loader = threading.Thread(target=self._load, name="staticreload-import", daemon=True)

    def _load(self) -> None:
        try:
            outcome: object = self.kind.open(self.spec)
        except BaseException as error:  # SystemExit at import time included
            outcome = error
        self.events.put((_LOADED, outcome))

    def run(self) -> int:
        """Load, then serve until stopped; the exit code."""
        started = time.monotonic()
        self.loader.start()
        outcome = self._wait_for_load(started)
        if isinstance(outcome, BaseException):
            return self._failed(outcome)
        return self._serve(outcome)

    def _wait_for_load(self, started: float) -> Gate | BaseException:
        """The loaded gate or the error; exits if told to stop first.

        An import running past the time limit is reported; once the
        supervisor says this worker serves, a 503 page answers until the
        import finishes.
        """
        limit_s = self.spec.import_timeout_s
        stuck: ReloadError | None = None
        page: RunningServer | None = None
        timeout_s = limit_s or None
        while True:
            try:
                event, value = self.events.get(timeout=timeout_s)
            except queue.Empty:
                stuck, timeout_s = self._stuck_at_start(time.monotonic() - started), None
                continue
            if event == _SERVE:
                if stuck is not None and page is None:
                    page = serve_page(self.listener.dup(), stuck, HTTPStatus.SERVICE_UNAVAILABLE)
                continue
            if page is not None:
                page.stop(STOP_DRAIN_S)  # the requests it has accepted get their page
            if event == _STOP:
                # Stopped before the application is in place: an import cannot be
                # interrupted, and nothing of the application needs closing.
                _exit_now(0)
            outcome: Gate | BaseException = value
            return outcome

    def _stuck_at_start(self, running_s: float) -> ReloadError:
        assert self.loader.ident is not None
        limit_s = self.spec.import_timeout_s
        error = running_import_error(self.loader.ident, running_s, limit_s, self.module_of)
        where = _place(error)
        logger.error("%s: %s; waiting for an edit", where, error.reason)
        self.channel.send(STUCK, reason=f"{where}: {error.reason}", running_s=running_s)
        return error

    def _failed(self, error: BaseException) -> int:
        """Report a start-up failure; serve its page until stopped (or exit: bad target)."""
        if (
            self.spec.first_start
            and isinstance(error, AppLoadError)
            and is_bad_target(error, factory=self.spec.factory)
        ):
            self.channel.send(BAD_TARGET, target=error.target, reason=error.reason)
            return EXIT_BAD_TARGET
        failure = self._startup_error(error)
        where = _place(failure)
        reason = f"{where}: {failure.reason}"
        logger.error("cannot load %s: %s; waiting for an edit", self.spec.target, reason)
        self.channel.send(FAILED, reason=reason)
        page: RunningServer | None = None
        while (event := self.events.get()[0]) != _STOP:
            if event == _SERVE and page is None:  # the supervisor chose this worker
                page = serve_page(self.listener.dup(), failure, HTTPStatus.INTERNAL_SERVER_ERROR)
        if page is not None:
            page.stop(STOP_DRAIN_S)
        return 0

    def _startup_error(self, error: BaseException) -> ReloadError:
        """The error at the deepest line of the project's code that failed."""
        cause = error.__cause__ if isinstance(error, AppLoadError) else error
        module = parse_target(self.spec.target).module
        if cause is None:
            failure = ReloadError(describe(error), module=module)
            failure.__cause__ = error
            return failure
        if isinstance(cause, SyntaxError) and cause.filename:  # the file, not its importer
            path = cause.filename
            return diagnostics.compile_failure(cause, Path(path), self.module_of(path))
        importing = ModuleImportError(module)
        importing.__cause__ = cause
        return diagnostics.import_failure(importing, self.module_of)

    def _serve(self, gate: Gate) -> int:
        server = self.kind.serve(self.listener.dup(), gate)
        self.channel.send(READY)
        # After READY: the supervisor heeds restart requests from the worker serving.
        # (A change during the import that needs one calls the handler at once.)
        gate.add_restart_handler(lambda reason: self.channel.send(RESTART, reason=reason))
        reported = False
        while True:
            try:
                event, _ = self.events.get(timeout=_TICK_S)
            except queue.Empty:
                reported = self._check_runaway(gate, reported)
                continue
            if event == _STOP:
                break
        runaway = gate.runaway() is not None
        if not runaway:
            gate.close()  # first: a worker being replaced reloads nothing more
        server.stop(STOP_DRAIN_S)  # then the requests it has accepted finish (or get a 503)
        if runaway:  # a reload thread that cannot be stopped
            _exit_now(0)
        return 0

    def _check_runaway(self, gate: Gate, reported: bool) -> bool:
        """Report a reload that runs past the time limit, and its end; whether reported."""
        runaway = gate.runaway()
        if runaway is not None and not reported:
            where = _place(runaway)
            logger.error("%s: %s; waiting for an edit", where, runaway.reason)
            # It began about the time limit ago (checked every _TICK_S).
            limit_s = self.spec.import_timeout_s
            self.channel.send(STUCK, reason=f"{where}: {runaway.reason}", running_s=limit_s)
        elif runaway is None and reported:
            self.channel.send(READY)
        return runaway is not None


def _place(error: ReloadError) -> str:
    """``path:line`` (or the module) of an error, for a log line."""
    place = error.path or error.module or "?"
    return place if error.lineno is None else f"{place}:{error.lineno}"


def _exit_now(code: int) -> NoReturn:
    """Exit without waiting for a thread stuck in an import (it cannot be interrupted)."""
    logging.shutdown()
    os._exit(code)


def _relay_signals(events: queue.SimpleQueue[Any]) -> None:
    """Make SIGTERM and ``SERVE_SIGNAL`` events at once, whichever thread the kernel interrupts.

    A Python handler runs in the main thread only, and only once that thread
    wakes: a signal delivered to another thread (a request's, the watcher's)
    would wait for the main thread's next timeout. The interpreter's wake-up
    file descriptor is written at once, from any thread; a thread relays it.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    for signum in (signal.SIGTERM, SERVE_SIGNAL):
        signal.signal(signum, lambda signum, frame: None)  # the relay acts on it
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    meanings = {int(signal.SIGTERM): _STOP, int(SERVE_SIGNAL): _SERVE}

    def relay() -> None:
        while True:
            for signum in os.read(read_fd, 64):
                if signum in meanings:
                    events.put((meanings[signum], None))

    threading.Thread(target=relay, name="staticreload-signals", daemon=True).start()


def _told_to_start(start_fd: int) -> bool:
    """A spare worker waits here; False if the supervisor let it go without starting it."""
    try:
        return bool(os.read(start_fd, 1))
    finally:
        os.close(start_fd)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a worker; ``argv`` is ``[WorkerSpec.to_json()]``.

    Returns:
        The exit code: 0 when stopped, 2 for a bad target at first start.
    """
    spec = WorkerSpec.from_json((sys.argv[1:] if argv is None else argv)[0])
    logging.basicConfig(
        level=logging.DEBUG if spec.debug else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    events: queue.SimpleQueue[Any] = queue.SimpleQueue()  # put() is safe in signal handlers
    # Ctrl-C reaches the whole process group: the supervisor decides what stops.
    # (A handler, not SIG_IGN, which the application's own subprocesses would inherit.)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    die_with_parent(spec.supervisor_pid, spec.lifeline_fd, lambda: events.put((_STOP, None)))
    faulthandler.enable(file=spec.fault_fd, all_threads=True)
    if spec.start_fd >= 0 and not _told_to_start(spec.start_fd):
        return 0
    _relay_signals(events)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    code = _Worker(spec, Channel(spec.control_fd), events).run()
    # As cli does for `serve`: the final collections would walk the application's heap.
    gc.freeze()
    return code
