"""The dashboard's background work: every worker goes through `background` (or
`Coalesced`), and every worker error ends in one handler, `WorkerErrors`, as a
notification and a log line, never as the end of the app.

Textual's exclusive thread workers are cancelled but keep running, so "exclusive" does
not keep two threads off the same state. `Coalesced` does: one thread at a time runs a
job, and requests that arrive meanwhile become one more run after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from textual import work
from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

log = logging.getLogger("orchtui.ui")
P = ParamSpec("P")
R = TypeVar("R")


def background(group: str, exclusive: bool = False) -> Callable[[Callable[P, R]], Callable[P, Worker[R]]]:
    """@work for a thread whose error is reported, not fatal."""

    def decorate(method: Callable[P, R]) -> Callable[P, Worker[R]]:
        return work(method, thread=True, group=group, exclusive=exclusive, exit_on_error=False)

    return decorate


class WorkerErrors:
    """Mixed into the app and each screen: the one place a worker's error goes."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            report(event.worker)


def report(worker: Worker[Any]) -> None:
    error = worker.error
    log.error("worker %s (%s) failed", worker.name, worker.group, exc_info=error)
    message = f"{type(error).__name__}: {error}" if error else "unknown error"
    node: DOMNode = worker.node
    node.app.notify(
        f"{worker.group or worker.name} failed: {message}", title="internal error", severity="error"
    )


class Coalesced:
    """Runs `job` in one worker thread at a time. A request while it runs asks for one
    more run after it; any number of such requests make one run."""

    def __init__(self, node: DOMNode, job: Callable[[], None], group: str) -> None:
        self.node = node
        self.job = job
        self.group = group
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    @property
    def busy(self) -> bool:
        return self._running

    def request(self) -> None:
        """Called on the UI thread (workers are started there)."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self.node.run_worker(self._loop, thread=True, group=self.group, exit_on_error=False)

    def _loop(self) -> None:
        try:
            while True:
                self.job()
                with self._lock:
                    if not self._again:
                        self._running = False
                        return
                    self._again = False
        except BaseException:
            with self._lock:
                self._running = self._again = False
            raise
