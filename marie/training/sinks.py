"""Optional metric sinks beside the always-written metrics.csv: wandb (the original's three modes) and TensorBoard.

Both survive a resume: the wandb run id is kept in the run directory (``WANDB_ID_FILE``) and the same wandb run
is resumed, with env steps as its x-axis; TensorBoard drops the points logged after the checkpoint
(``purge_step``), which the resumed run logs again.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import uuid
from pathlib import Path

from marie.contract import WANDB_ID_FILE
from marie.errors import UsageError
from marie.fileio import atomic_write_text

STEP_KEY = "env_steps"  # the x-axis of every wandb metric


def require_sinks(cfg) -> None:
    """Refuse a sink whose package is missing, before anything is written (exit 2)."""
    if cfg.run.wandb_mode != "disabled" and importlib.util.find_spec("wandb") is None:
        raise UsageError(
            f"--mode {cfg.run.wandb_mode} needs wandb: pip install 'marie-repro[logging]' (or --mode disabled)"
        )
    if cfg.run.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("run.tensorboard=true needs tensorboard: pip install 'marie-repro[logging]'")


def wandb_run_id(out_dir: Path) -> str:
    """The run directory's wandb run id, created on first use: every restart logs to the same wandb run."""
    path = out_dir / WANDB_ID_FILE
    if path.exists():
        text = path.read_text().strip()
        if text:
            return text
    run_id = uuid.uuid4().hex[:16]
    atomic_write_text(path, run_id + "\n")
    return run_id


class MetricSinks:
    def __init__(self, cfg, out_dir: Path, resume_step: int = 0):
        """``resume_step``: env steps of the checkpoint resumed from (0: a fresh start)."""
        self._wandb = None
        self._tb = None
        if cfg.run.wandb_mode != "disabled":
            import wandb

            self._wandb = wandb.init(
                project=cfg.run.wandb_project or cfg.env.env,
                mode=cfg.run.wandb_mode,
                dir=str(out_dir),
                name=f"{cfg.run.algo}_{cfg.env.env_name}_seed{cfg.env.seed}",
                config=dataclasses.asdict(cfg),
                id=wandb_run_id(out_dir),
                resume="allow",
            )
            self._wandb.define_metric(STEP_KEY)
            self._wandb.define_metric("*", step_metric=STEP_KEY)
        if cfg.run.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # Events past the checkpoint were logged by the interrupted process and are logged again from here on.
            purge = resume_step + 1 if resume_step > 0 else None
            self._tb = SummaryWriter(log_dir=str(out_dir / "tensorboard"), purge_step=purge)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self._wandb is not None:
            self._wandb.log(dict(metrics, **{STEP_KEY: step}))
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self._wandb is not None:
            self._wandb.finish()
        if self._tb is not None:
            self._tb.close()
