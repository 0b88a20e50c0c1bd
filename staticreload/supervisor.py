"""The supervisor: keeps the listening socket, starts and replaces workers, waits for edits."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any

from staticreload import sources
from staticreload.exceptions import AppLoadError, ReloadError, StaticReloadError
from staticreload.watcher import Watcher
from staticreload.worker import (
    BAD_TARGET,
    FAILED,
    READY,
    RESTART,
    SERVE_SIGNAL,
    STUCK,
    RunningServer,
    WorkerSpec,
    project_module_of,
    serve_page,
)

__all__ = ["AppSettings", "Supervisor", "WorkerCrash", "watched_folders"]

logger = logging.getLogger(__name__)

# A worker that dies this soon after it started, or before it could serve,
# counts as dying at start-up; after this many such deaths in a row no new
# worker is started until an edit.
SHORT_LIFE_S = 5.0
MAX_START_CRASHES = 3
# The wait before the next try after the second death in a row; doubled after each.
BACKOFF_S = 0.25
# How long a worker told to stop (SIGTERM) may take to finish its requests
# and exit before it is killed.
STOP_GRACE_S = 5.0
# The longest the loop sleeps without looking at its workers: the end-of-file
# of a worker's pipe is the prompt sign of its end, but a child the
# application started may hold a copy of the pipe.
_TICK_S = 0.5
# Runs a worker in a fresh interpreter, never as ``__main__`` (which would
# give the process two copies of the worker module).
_WORKER_MAIN = "import sys; from staticreload.worker import main; sys.exit(main())"
_FAULT_FRAME = re.compile(r'File "(?P<path>.+)", line (?P<lineno>\d+)')

_STARTING, _READY, _FAILED, _STUCK = "starting", "ready", "failed", "stuck"


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """What every worker is started with.

    Attributes:
        target: ``"package.module:attribute"``.
        factory: the attribute is an application factory.
        targets: what to reload and watch (folders or packages).
        debounce_s: the watcher's quiet time, in seconds.
        on_error: ``"page"`` or ``"keep"``.
        restart_on: file patterns whose changes need a restart.
        import_timeout_s: the import time limit, in seconds (0: none).
        debug: workers log at DEBUG level.
    """

    target: str
    factory: bool
    targets: list[str]
    debounce_s: float
    on_error: str
    restart_on: list[str]
    import_timeout_s: float
    debug: bool = False


class WorkerCrash(StaticReloadError):
    """A worker process died: its exit status, and the crash report if it left one.

    Attributes:
        pid: the worker's process id.
        how: ``"SIGSEGV"``, ``"exit code 1"``...
        report: what :mod:`faulthandler` wrote (the Python stack of each
            thread at a fatal signal), or ``""``.
    """

    def __init__(self, pid: int, how: str, report: str) -> None:
        self.pid = pid
        self.how = how
        self.report = report
        super().__init__(f"worker {pid} died ({how})" + (f"\n\n{report}" if report else ""))


@dataclasses.dataclass(eq=False)
class _Worker:
    """The supervisor's view of one worker process."""

    process: subprocess.Popen[bytes]
    control: int  # the read end of its pipe
    fault: IO[bytes]  # its faulthandler file
    started: float  # time.monotonic()
    state: str = _STARTING
    stop_by: float | None = None  # killed if still alive then (monotonic)
    buffer: bytes = b""
    start: int = -1  # a spare's start pipe (write end): a byte starts it, closing ends it

    @property
    def pid(self) -> int:
        return self.process.pid


class Supervisor:
    """Runs workers on a listening socket it keeps, so that no connection is ever refused.

    One worker serves at a time. A restart starts a new worker and stops the
    old one only once the new one has loaded the application (or failed to,
    and shows why); meanwhile the old one answers, and connections nobody
    accepts wait in the socket's backlog. A worker that cannot load the
    application, or whose import runs past the time limit, serves a page
    saying so until the next edit restarts it. A worker that dies is
    replaced; one that keeps dying at start-up is not, until an edit, and the
    supervisor serves the crash report itself meanwhile.
    """

    def __init__(self, settings: AppSettings, listener: socket.socket) -> None:
        """Args:
        settings: what workers run.
        listener: the bound, listening, non-blocking socket; the caller closes it.
        """
        self.settings = settings
        self.listener = listener
        self._selector = selectors.DefaultSelector()
        self._wakeup_r, self._wakeup_w = os.pipe()
        os.set_blocking(self._wakeup_r, False)
        os.set_blocking(self._wakeup_w, False)
        self._selector.register(self._wakeup_r, selectors.EVENT_READ, self._drain_wakeup)
        # Workers inherit the read end; only this process holds the write end,
        # so its end (even by SIGKILL) is an end of file in every worker.
        self._lifeline_r, self._lifeline_w = os.pipe()
        self._module_of = project_module_of(settings.targets)
        # Edits restart a worker that cannot serve (the worker's own watcher, if
        # any, is not to be trusted then).
        self._watcher = Watcher(
            watched_folders(settings.targets), self._on_change, debounce_s=settings.debounce_s
        )
        self.current: _Worker | None = None  # serving: ready, failed or stuck
        self.pending: _Worker | None = None  # starting, to replace ``current``
        # A worker started ahead, its imports done, waiting to load the application:
        # a restart saves the interpreter's start and staticreload's imports.
        self._spare: _Worker | None = None
        self._retiring: list[_Worker] = []
        self._fallback: RunningServer | None = None
        self._crashes = 0  # deaths soon after starting, in a row
        self._restart_at: float | None = None
        self._waiting_since: float | None = None  # for an edit newer than this
        self._changed_at = -float("inf")
        self._settled = False  # a worker has loaded the application, or shown why not
        self._stop_reason: str | None = None
        self._fatal: StaticReloadError | None = None

    # Control from outside

    @property
    def stop_reason(self) -> str | None:
        """Why the supervisor stopped (``"SIGINT"``...), or None while it runs."""
        return self._stop_reason

    def request_stop(self, reason: str) -> None:
        """Stop soon; safe to call from a signal handler."""
        self._stop_reason = reason
        self._wake()

    def run(self) -> None:
        """Start the first worker and supervise until :meth:`request_stop`.

        Raises:
            AppLoadError: the first worker found no application at the target
                (a module that does not exist, an attribute that is missing or
                not callable).
        """
        self._watcher.start()
        # A signal the kernel delivers to another thread (the watcher's) must
        # still wake the loop: the interpreter writes to this descriptor at once.
        in_main = threading.current_thread() is threading.main_thread()
        previous = (
            signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False) if in_main else -1
        )
        try:
            self._spawn()
            while self._stop_reason is None:
                for key, _ in self._selector.select(self._timeout()):
                    key.data()
                self._tick()
        finally:
            if in_main:
                signal.set_wakeup_fd(previous)
            self._shutdown()
        if self._fatal is not None:
            raise self._fatal

    # The loop

    def _wake(self) -> None:
        if self._wakeup_w < 0:
            return  # stopped: the descriptor is closed (its number may be reused)
        with contextlib.suppress(OSError):  # full: a wake-up is already pending
            os.write(self._wakeup_w, b"!")

    def _drain_wakeup(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wakeup_r, 512):
                pass
        self._restart_if_edited()

    def _on_change(self, paths: set[str]) -> None:
        """In the watcher's thread: remember the time, wake the loop."""
        self._changed_at = time.monotonic()
        self._wake()

    def _timeout(self) -> float:
        deadlines = [w.stop_by for w in self._retiring if w.stop_by is not None]
        if self._restart_at is not None:
            deadlines.append(self._restart_at)
        now = time.monotonic()
        return max(0.0, min([_TICK_S, *(deadline - now for deadline in deadlines)]))

    def _tick(self) -> None:
        now = time.monotonic()
        for worker in [self.current, self.pending, self._spare, *self._retiring]:
            if worker is not None and worker.process.poll() is not None:
                self._exited(worker)
        for worker in self._retiring:
            if worker.stop_by is not None and now >= worker.stop_by:
                logger.warning(
                    "worker %d did not stop in %.0f s; killing it", worker.pid, STOP_GRACE_S
                )
                worker.process.kill()
                worker.stop_by = None
        if self._restart_at is not None and now >= self._restart_at and self.pending is None:
            self._restart_at = None
            self._spawn()

    # Workers

    def _spawn(self) -> None:
        """Start a worker (the spare, if there is one); it is ``pending`` until it reports."""
        worker = self._take_spare() or self._start_process(spare=False)
        self._waiting_since = None
        self._restart_at = None
        self.pending = worker
        logger.debug("worker %d started", worker.pid)

    def _start_process(self, *, spare: bool) -> _Worker:
        control_r, control_w = os.pipe()
        os.set_blocking(control_r, False)
        start_r, start_w = os.pipe() if spare else (-1, -1)
        fault = tempfile.TemporaryFile()  # noqa: SIM115  (closed when the worker is reaped)
        spec = WorkerSpec(
            **dataclasses.asdict(self.settings),
            first_start=not self._settled,
            listen_fd=self.listener.fileno(),
            control_fd=control_w,
            lifeline_fd=self._lifeline_r,
            fault_fd=fault.fileno(),
            supervisor_pid=os.getpid(),
            start_fd=start_r,
        )
        inherited = [spec.listen_fd, control_w, self._lifeline_r, spec.fault_fd]
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, spec.to_json()],
                pass_fds=[*inherited, start_r] if spare else inherited,
            )
        finally:
            os.close(control_w)
            if spare:
                os.close(start_r)
        worker = _Worker(process, control_r, fault, time.monotonic(), start=start_w)
        self._selector.register(control_r, selectors.EVENT_READ, lambda: self._read(worker))
        return worker

    def _take_spare(self) -> _Worker | None:
        """The spare, told to load the application; None if there is none (alive)."""
        spare, self._spare = self._spare, None
        if spare is None or spare.start < 0:
            return None
        try:
            os.write(spare.start, b"!")
        except OSError:  # it has died; its end of file is on its way
            return None
        finally:
            os.close(spare.start)
            spare.start = -1
        spare.started = time.monotonic()
        return spare

    def _ensure_spare(self) -> None:
        """Start a spare, once a new worker has loaded (not to slow down its start)."""
        if self._spare is None and self._stop_reason is None:
            self._spare = self._start_process(spare=True)
            logger.debug("spare worker %d started", self._spare.pid)

    def _read(self, worker: _Worker) -> None:
        if not self._drain(worker):
            self._exited(worker)

    def _drain(self, worker: _Worker) -> bool:
        """Handle the messages waiting in a worker's pipe; False at its end of file."""
        while True:
            try:
                data = os.read(worker.control, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            *lines, worker.buffer = (worker.buffer + data).split(b"\n")
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    logger.debug("worker %d: not a message: %r", worker.pid, line[:200])
                    continue
                self._message(worker, message)

    def _message(self, worker: _Worker, message: dict[str, Any]) -> None:
        event = message["event"]
        if worker is not self.current and worker is not self.pending:
            return  # a retiring worker: no longer listened to
        if event == READY:
            self._ready(worker)
        elif event in (FAILED, STUCK):
            since = time.monotonic() - float(message.get("running_s", 0.0))
            self._cannot_serve(worker, _FAILED if event == FAILED else _STUCK, since)
        elif event == RESTART:
            if worker is self.current and self.pending is None:
                logger.debug("worker %d asks for a restart: %s", worker.pid, message["reason"])
                self._spawn()
        elif event == BAD_TARGET and not self._settled:
            self._fatal = AppLoadError(message["target"], message["reason"])
            self.request_stop("bad target")

    def _ready(self, worker: _Worker) -> None:
        if worker is self.current:  # a reload that ran past the time limit has finished
            worker.state, self._waiting_since = _READY, None
            return
        restarted = self._settled
        self._promote(worker, _READY)
        self._crashes = 0
        if restarted:
            elapsed_s = time.monotonic() - worker.started
            logger.info("worker %d serving, restarted in %.2f s", worker.pid, elapsed_s)

    def _cannot_serve(self, worker: _Worker, state: str, since: float) -> None:
        """The worker serves a page saying why it cannot load the application."""
        keep = self.settings.on_error == "keep"
        if worker is self.pending and keep and self.current and self.current.state == _READY:
            logger.warning("worker %d cannot serve: the previous one keeps serving", worker.pid)
            self.pending = None
            self._retire(worker)
            self._ensure_spare()
            return
        if worker is self.pending:
            self._promote(worker, state)
        worker.state = state
        self._waiting_since = max(since, worker.started)
        self._restart_if_edited()

    def _promote(self, worker: _Worker, state: str) -> None:
        """``worker`` becomes the one serving; the previous one stops."""
        previous, self.current, self.pending = self.current, worker, None
        worker.state = state
        if state != _READY:  # it waits for this word to serve its page
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, SERVE_SIGNAL)
        if previous is not None:
            self._retire(previous)
        self._stop_fallback()
        if not self._settled:
            self._settled = True
            logger.info("serving on %s (worker %d)", self.url, worker.pid)
        self._ensure_spare()

    def _retire(self, worker: _Worker) -> None:
        """Ask a worker to stop (it finishes its requests first); kill it if it takes too long."""
        with contextlib.suppress(ProcessLookupError):
            worker.process.terminate()
        worker.stop_by = time.monotonic() + STOP_GRACE_S
        self._retiring.append(worker)

    def _exited(self, worker: _Worker) -> None:
        """A worker's pipe closed or its process ended: reap it, and replace it if it served."""
        if worker.control < 0:
            return  # already handled
        self._drain(worker)  # what it said before it ended (bad target, ready...)
        if worker.control < 0:
            return  # handled while draining
        self._selector.unregister(worker.control)
        os.close(worker.control)
        worker.control = -1
        try:
            worker.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:  # its pipe closed, yet it lives on
            worker.process.kill()
            worker.process.wait()
        if worker is self._spare or worker.start >= 0:  # a spare that was never started
            self._drop_spare(worker)
            return
        if worker in self._retiring:
            self._retiring.remove(worker)
            worker.fault.close()
            return
        crash = self._crash(worker)
        worker.fault.close()
        if self._stop_reason is not None:
            return
        if worker is self.pending:
            self.pending = None
        elif worker is self.current:
            self.current = None
        self._died(worker, crash)

    def _drop_spare(self, spare: _Worker) -> None:
        if spare is self._spare:
            self._spare = None
        if spare.start >= 0:
            os.close(spare.start)  # end of file: a spare waiting there exits
            spare.start = -1
        spare.fault.close()

    def _crash(self, worker: _Worker) -> WorkerCrash:
        returncode = worker.process.returncode
        how = signal.Signals(-returncode).name if returncode < 0 else f"exit code {returncode}"
        worker.fault.seek(0)
        report = worker.fault.read().decode(errors="replace").strip()
        return WorkerCrash(worker.pid, how, report)

    def _died(self, worker: _Worker, crash: WorkerCrash) -> None:
        """Start another worker, soon or after a pause; after repeated early deaths, wait."""
        short = worker.state == _STARTING or time.monotonic() - worker.started < SHORT_LIFE_S
        self._crashes = self._crashes + 1 if short else 1
        error = self._crash_error(crash)
        where = f" at {error.path}:{error.lineno}" if error.path else ""
        if self._crashes >= MAX_START_CRASHES:
            logger.error(
                "worker %d died (%s%s), %d times in a row soon after starting; waiting for an edit",
                worker.pid,
                crash.how,
                where,
                self._crashes,
            )
            if self.current is None:
                self._start_fallback(error)
            self._waiting_since = worker.started
            self._restart_if_edited()
            return
        delay_s = 0.0 if self._crashes < 2 else BACKOFF_S * 2 ** (self._crashes - 2)
        logger.warning(
            "worker %d died (%s%s); starting another in %.2f s",
            worker.pid,
            crash.how,
            where,
            delay_s,
        )
        self._restart_at = time.monotonic() + delay_s

    def _crash_error(self, crash: WorkerCrash) -> ReloadError:
        """The crash as the error page shows it: at the project's innermost frame in the report."""
        path: str | None = None
        lineno: int | None = None
        for found in _FAULT_FRAME.finditer(crash.report):  # most recent call first
            if self._module_of(found["path"]):
                path, lineno = found["path"], int(found["lineno"])
                break
        module = self._module_of(path) if path else None
        error = ReloadError(
            f"the worker died ({crash.how})", module=module, path=path, lineno=lineno
        )
        error.__cause__ = crash
        return error

    def _restart_if_edited(self) -> None:
        """While no worker can serve the application: restart after any newer edit."""
        if self._waiting_since is None or self.pending is not None:
            return
        if self._changed_at > self._waiting_since:
            logger.info("files changed: starting a new worker")
            self._crashes = 0
            self._spawn()

    # The supervisor's own page, while no worker is alive

    def _start_fallback(self, error: ReloadError) -> None:
        self._stop_fallback()
        self._fallback = serve_page(self.listener.dup(), error, HTTPStatus.INTERNAL_SERVER_ERROR)
        if not self._settled:
            self._settled = True
            logger.info("serving on %s (no worker: see the error page)", self.url)

    def _stop_fallback(self) -> None:
        if self._fallback is not None:
            self._fallback.stop(STOP_GRACE_S)
            self._fallback = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the listening socket."""
        host, port = self.listener.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    # Stopping

    def _shutdown(self) -> None:
        """Stop the watcher, the workers (killing those that take too long), the page."""
        self._watcher.stop()
        workers = [
            w for w in (self.current, self.pending, self._spare, *self._retiring) if w is not None
        ]
        for worker in workers:
            if worker.start >= 0:
                os.close(worker.start)
                worker.start = -1
            with contextlib.suppress(ProcessLookupError):
                worker.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "worker %d did not stop in %.0f s; killing it", worker.pid, STOP_GRACE_S
                )
                worker.process.kill()
                worker.process.wait()
            if worker.control >= 0:
                os.close(worker.control)
            worker.fault.close()
        self._stop_fallback()
        self._selector.close()
        wakeup_w, self._wakeup_w = self._wakeup_w, -1
        for fd in (self._wakeup_r, wakeup_w, self._lifeline_r, self._lifeline_w):
            os.close(fd)


def watched_folders(targets: Sequence[str]) -> list[Path]:
    """The folders to watch for the targets (folders or packages); nothing is imported.

    Raises:
        PackageNotFoundError: a target is neither a folder nor a package.
    """
    return [tree.folder for tree in sources.resolve_targets(targets, None)]
