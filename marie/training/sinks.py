"""Optional metric sinks beside the always-written metrics.csv: wandb (the original's three modes) and TensorBoard."""

from __future__ import annotations

from pathlib import Path

from marie.errors import UsageError


class MetricSinks:
    def __init__(self, cfg, out_dir: Path):
        self._wandb = None
        self._tb = None
        if cfg.run.wandb_mode != "disabled":
            try:
                import wandb
            except ImportError:
                raise UsageError("--mode online/offline needs wandb: pip install 'marie-repro[logging]'") from None
            self._wandb = wandb.init(
                project=cfg.run.wandb_project or cfg.env.env,
                mode=cfg.run.wandb_mode,
                dir=str(out_dir),
                name=f"{cfg.run.algo}_{cfg.env.env_name}_seed{cfg.env.seed}",
                config=__import__("dataclasses").asdict(cfg),
                resume="allow",
            )
        if cfg.run.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UsageError("run.tensorboard=true needs tensorboard: pip install 'marie-repro[logging]'") from None
            self._tb = SummaryWriter(log_dir=str(out_dir / "tensorboard"))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self._wandb is not None:
            self._wandb.log(dict(metrics, steps=step))
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self._wandb is not None:
            self._wandb.finish()
        if self._tb is not None:
            self._tb.close()
