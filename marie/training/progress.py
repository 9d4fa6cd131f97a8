"""Progress reporting: a live status line on a TTY, one plain line per evaluation otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total_steps: int, label: str, mode: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        self.total = total_steps
        self.label = label
        self.enabled = mode != "none"
        self.live = self.enabled and mode == "auto" and self.stream.isatty()
        self.start = time.monotonic()
        self.start_steps = 0
        self.last_eval = ""

    def resume_from(self, steps: int) -> None:
        self.start_steps = steps

    def _rate(self, steps: int) -> float:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        return (steps - self.start_steps) / elapsed

    def update(self, steps: int) -> None:
        if not self.live:
            return
        pct = 100.0 * min(steps / self.total, 1.0)
        line = f"\r{self.label} {steps}/{self.total} env steps ({pct:5.1f}%) {self._rate(steps):7.0f} steps/s {self.last_eval}"
        self.stream.write(line[:160].ljust(100))
        self.stream.flush()

    def evaluation(self, steps: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        shown = "  ".join(f"{k.split('/')[-1]}={v:.3f}" for k, v in metrics.items() if k != "eval/episode_length")
        self.last_eval = f"| eval {shown}"
        if self.live:
            self.update(steps)
        else:
            self.stream.write(f"{self.label} step {steps}/{self.total}: {self.last_eval[2:]}  ({self._rate(steps):.0f} steps/s)\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.live:
            self.stream.write("\n")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
