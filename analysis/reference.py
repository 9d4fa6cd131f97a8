"""Turn the paper's reported numbers (results/reference/) into summary rows of the baseline schema.

The reported rows then enter every table through the same path as any other drop-in baseline.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.io import write_table

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "results" / "reference"
BASELINES_DIR = REFERENCE_DIR.parent / "baselines"
COLUMNS = ["method", "env", "map", "seed", "step", "metric", "value", "spread", "n_seeds", "eval_mode", "simulator", "provenance"]


def smac_rows(path: Path) -> pd.DataFrame:
    ref = pd.read_csv(path)
    return pd.DataFrame(
        {
            "method": ref["method"],
            "env": "starcraft",
            "map": ref["map"],
            "seed": "",
            "step": ref["steps"],
            "metric": "eval/win_rate",
            # the paper prints percent; the suite stores win rates as fractions
            "value": (ref["win_rate_mean_pct"] / 100).round(6),
            "spread": (ref["win_rate_std_pct"] / 100).round(6),
            "n_seeds": ref["n_seeds"],
            "eval_mode": "paper",
            "simulator": "SMAC (StarCraft II)",
            "provenance": "reported, centre (spread) as printed; "
            + ref["source"]
            + f"; via results/reference/{path.name}",
        }
    )[COLUMNS]


def mamujoco_rows(path: Path) -> pd.DataFrame:
    ref = pd.read_csv(path)
    return pd.DataFrame(
        {
            "method": ref["method"],
            "env": ref["env"],
            "map": ref["scenario"] + "-" + ref["agent_conf"],
            "seed": "",
            "step": ref["steps"],
            "metric": "eval/return",
            "value": ref["episode_return_approx"],
            "spread": ref["reading_error"],
            "n_seeds": "",
            "eval_mode": "paper",
            "simulator": "MAMuJoCo v2 tasks (multiagent_mujoco)",
            "provenance": "approximate (read by eye, spread = reading error, not a seed spread); "
            + ref["source"]
            + f"; via results/reference/{path.name}",
        }
    )[COLUMNS]


CONVERSIONS = {
    "marie_paper_smac.csv": ("paper_reported_smac.csv", smac_rows),
    "marie_paper_mamujoco_approx.csv": ("paper_reported_mamujoco_approx.csv", mamujoco_rows),
}


def convert_reference(reference_dir: Path = REFERENCE_DIR, baselines_dir: Path = BASELINES_DIR) -> list[Path]:
    written = []
    for source, (target, convert) in CONVERSIONS.items():
        out = Path(baselines_dir) / target
        write_table(convert(Path(reference_dir) / source), out)
        written.append(out)
    return written
