"""Ctrl-C during training, taken between steps.

A ``KeyboardInterrupt`` raised inside a framework's call (a compiled step half-way through) can leave
the framework's state broken: TensorFlow 2.21 wrote the checkpoint, then crashed as the interpreter
exited ('free(): invalid pointer', SIGABRT) in a third to a half of the runs tested here. So, while the
trainer runs, the first Ctrl-C only asks it to stop: it stops once the step (or validation batch) in
progress is done, and raises the ``KeyboardInterrupt`` there. A second Ctrl-C goes to the handler that
was there before, which interrupts at once (Python's raises ``KeyboardInterrupt`` wherever it lands).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class DeferredInterrupt:
    """A context in which Ctrl-C sets :attr:`requested` instead of raising; :meth:`check` raises it.

    Only the main thread receives signals: elsewhere, or where SIGINT is ignored or not Python's to
    handle, it changes nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # Python's default_int_handler, or a notebook kernel's
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C interrupts at once

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed since the last check."""
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
