"""SIGINT (Ctrl-C) and SIGTERM (SLURM preemption, ``scancel``, a container stop) ask a run to stop: the loop finishes
the iteration it is in, saves a checkpoint and exits 130 / 143. A checkpoint is only exact between iterations (a
resumed run must replay what an uninterrupted one does), so the signal is not acted on mid-iteration; a second
signal stops at once, keeping the previous checkpoint.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from marie.errors import INTERRUPTED_EXIT, TERMINATED_EXIT

_SIGNALS = {signal.SIGINT: INTERRUPTED_EXIT, signal.SIGTERM: TERMINATED_EXIT}


class StopRequests:
    """Context manager: while active, the first SIGINT/SIGTERM sets ``requested`` (the signal's name) and a second
    one raises KeyboardInterrupt. Outside the main thread (signals cannot be caught there) it does nothing."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self.exit_code = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        self.exit_code = _SIGNALS[signal.Signals(signum)]

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
