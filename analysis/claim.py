"""The paper's sample-efficiency claim at the suite's budget, per map: is MARIE's mean eval curve above each other
method's over the last third of the budget?

Per seed the statistic is `last_third` of `Evidence.finals` (the mean of its evaluations at steps >= 2/3 of the
map's budget, in the env family's primary metric); per method, those seed means averaged. A map enters when it has
MARIE and at least one other method: the suite's own runs, and per-seed baseline curves (a baseline with a single
evaluation per seed has no last third to average and is left out, with a note). Verdicts are descriptive: with the
suite's 2-4 seeds no significance is claimed (docs/statistics.md).
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.evidence import Evidence
from analysis.io import markdown_table, markdown_text
from analysis.labels import BOUNDED_METRICS, map_label, primary_metric
from analysis.suite import Suite

CLAIM_METHOD = "MARIE"
COLUMNS = ["env", "map", "budget", "metric", "method", "source", "n_seeds", "last_third_mean", "per_seed",
           "marie_vs_method", "seed_pairs_marie_ahead", "seed_pairs_level", "seed_pairs",
           "marie_ahead_every_seed_pair"]  # fmt: skip
VERDICTS = ("MARIE ahead", "MARIE behind", "level")
TITLE = "The sample-efficiency claim at this budget"


def verdict(marie: float, other: float) -> str:
    """On the pooled means. No margin: none could be justified with 2-4 seeds, so "level" means equal."""
    if math.isclose(marie, other, rel_tol=1e-9, abs_tol=1e-12):
        return "level"
    return "MARIE ahead" if marie > other else "MARIE behind"


def _per_seed_text(values: pd.Series) -> str:
    """`seed=value` pairs at full precision, e.g. "1=0.48;2=0.5" (the CSV keeps numbers, `display` formats them)."""
    return ";".join(f"{int(seed)}={value:.10g}" for seed, value in values.items())


def _parse_per_seed(text: str) -> dict[int, float]:
    pairs = (item.split("=") for item in str(text).split(";") if item)
    return {int(seed): float(value) for seed, value in pairs}


def _usable(evidence: Evidence, notes: list[str]) -> pd.DataFrame:
    """Per-seed last-third means that may enter: own runs, and baseline seeds with a curve; NaNs are named."""
    finals = evidence.finals
    own = finals["source"].astype(str).str.startswith("this suite")
    for (method, env, map_name), rows in finals[~own & (finals["n_evals"] < 2)].groupby(["method", "env", "map"]):
        notes.append(f"{method} on {env}/{map_name}: a final value only (no curve), so no last third; left out")
    rows = finals[own | (finals["n_evals"] >= 2)]
    missing = rows[rows["last_third"].isna()]
    for (method, env, map_name), part in missing.groupby(["method", "env", "map"]):
        seeds = ", ".join(map(str, sorted(part["seed"].astype(int))))
        notes.append(f"{method} on {env}/{map_name}: seed(s) {seeds} have no evaluation in the last third; left out")
    return rows[rows["last_third"].notna()]


def claim_table(evidence: Evidence) -> tuple[pd.DataFrame, list[str]]:
    """One row per (map, method) on every map with MARIE and another method (COLUMNS); notes name what is left out.

    For each other method: the verdict on the pooled means and, on the seeds both ran (seed k vs seed k), how many
    pairs MARIE is ahead on.
    """
    notes: list[str] = []
    rows = _usable(evidence, notes)
    out = []
    for env in evidence.suite.envs:
        for map_name in evidence.suite.maps(env):
            here = rows[(rows["env"] == env) & (rows["map"] == map_name)]
            methods = [m for m in evidence.methods(env) if m in set(here["method"])]
            methods.sort(key=lambda m: m != CLAIM_METHOD)  # MARIE first, the others in display order
            if CLAIM_METHOD not in methods or len(methods) < 2:
                missing = "no MARIE run" if CLAIM_METHOD not in methods else "no other method"
                notes.append(f"{map_label(env, map_name)}: {missing} with evaluations in the last third; not compared")
                continue
            per_seed = {m: here[here["method"] == m].groupby("seed")["last_third"].mean() for m in methods}
            marie = per_seed[CLAIM_METHOD]
            for method in methods:
                seeds = per_seed[method]
                row = {
                    "env": env, "map": map_name, "budget": evidence.suite.budget(env, map_name),
                    "metric": primary_metric(env), "method": method,
                    "source": "; ".join(dict.fromkeys(here.loc[here["method"] == method, "source"])),
                    "n_seeds": len(seeds), "last_third_mean": float(seeds.mean()), "per_seed": _per_seed_text(seeds),
                    "marie_vs_method": "", "seed_pairs_marie_ahead": pd.NA, "seed_pairs_level": pd.NA,
                    "seed_pairs": pd.NA,
                    "marie_ahead_every_seed_pair": "",
                }  # fmt: skip
                if method != CLAIM_METHOD:
                    common = sorted(set(marie.index) & set(seeds.index))
                    ahead = sum(marie[s] > seeds[s] for s in common)
                    level = sum(verdict(marie[s], seeds[s]) == "level" for s in common)
                    row |= {
                        "marie_vs_method": verdict(float(marie.mean()), float(seeds.mean())),
                        "seed_pairs_marie_ahead": ahead, "seed_pairs_level": level, "seed_pairs": len(common),
                        "marie_ahead_every_seed_pair": ("yes" if ahead == len(common) else "no") if common
                        else "no matching seeds",
                    }  # fmt: skip
                out.append(row)
    table = pd.DataFrame(out, columns=COLUMNS)
    counts = ["seed_pairs_marie_ahead", "seed_pairs_level", "seed_pairs"]
    table[counts] = table[counts].astype("Int64")
    return table, notes


def _fmt(value: float, metric: str) -> str:
    return f"{100 * value:.1f}%" if metric in BOUNDED_METRICS else f"{value:.1f}"


def summary_lines(table: pd.DataFrame) -> list[str]:
    """One line per other method: "MARIE ahead of MAPPO over the last third on k of m maps", and where it is not."""
    lines = []
    others = table[table["method"] != CLAIM_METHOD]
    for method, rows in others.groupby("method", sort=False):
        ahead = rows[rows["marie_vs_method"] == "MARIE ahead"]
        every = int((ahead["marie_ahead_every_seed_pair"] == "yes").sum())
        line = (f"MARIE ahead of {method} over the last third on {len(ahead)} of {len(rows)} "
                f"map{'' if len(rows) == 1 else 's'} (on every seed pair on {every} of them)")  # fmt: skip
        for word in ("behind", "level"):
            maps = rows.loc[rows["marie_vs_method"] == ("level" if word == "level" else "MARIE behind"), "map"]
            line += f"; {word} on {', '.join(maps)}" if len(maps) else ""
        lines.append(line + ".")
    return lines


def seeds_caveat(table: pd.DataFrame) -> str:
    counts = sorted(set(table["n_seeds"].astype(int)))
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return (f"n = {n} seeds per method: descriptive, not significant. No test or interval is claimed (with 2 seeds "
            "a 95% t-interval spans most of the metric's range; docs/statistics.md).")  # fmt: skip


def _pairs_text(row: pd.Series) -> str:
    """E.g. "no (1 of 2)", "no (0 of 2; 2 level)", "no matching seeds"."""
    if not int(row["seed_pairs"]):
        return str(row["marie_ahead_every_seed_pair"])
    level = int(row["seed_pairs_level"])
    counts = f"{int(row['seed_pairs_marie_ahead'])} of {int(row['seed_pairs'])}" + (f"; {level} level" if level else "")
    return f"{row['marie_ahead_every_seed_pair']} ({counts})"


def display_claim(table: pd.DataFrame) -> pd.DataFrame:
    """The table as printed: map label, formatted means and per-seed values, verdict and seed pairs."""
    rows = []
    for _, r in table.iterrows():
        metric = r["metric"]
        per_seed = _parse_per_seed(r["per_seed"])
        pairs = "" if r["method"] == CLAIM_METHOD else _pairs_text(r)
        rows.append({
            "map": map_label(r["env"], r["map"]),
            "last third (env steps)": f"{math.ceil(2 * int(r['budget']) / 3):,}-{int(r['budget']):,}",
            "method": r["method"],
            "n": int(r["n_seeds"]),
            "last-third mean": _fmt(float(r["last_third_mean"]), metric),
            "per seed": ", ".join(f"s{s} {_fmt(v, metric)}" for s, v in per_seed.items()),
            "MARIE vs this method (pooled means)": r["marie_vs_method"],
            "MARIE ahead on every seed pair": pairs,
        })  # fmt: skip
    return pd.DataFrame(rows)


def claim_section(table: pd.DataFrame | None, suite: Suite) -> list[str]:
    """The report's section: the summary line(s), the caveat on seeds, the table and the maps not compared."""
    lines = [
        f"## {TITLE}",
        "",
        "The paper's claim as this suite can test it: MARIE's mean eval curve is above each other method's over the "
        "last third of the budget. Per seed: the mean of its evaluations at steps >= 2/3 of the map's budget; per "
        "method: those seed means averaged. Metric: eval win rate on SMAX/SMAC, eval return on MPE and MAMuJoCo. "
        "Seed pairs compare seed k of MARIE with seed k of the other method.",
        "",
    ]
    if table is None:
        return lines + ["Not computed: `tables/sample_efficiency.csv` is missing (`python -m analysis table ... "
                        "--claim-out tables/sample_efficiency.csv` writes it)."]  # fmt: skip
    if table.empty:
        lines.append("No map of this suite has MARIE and another method with evaluations in the last third.")
    else:
        lines += [f"**{markdown_text(line)}**" for line in summary_lines(table)]
        lines += ["", f"- {seeds_caveat(table)}", "", markdown_table(display_claim(table))]
    compared = set(zip(table["env"], table["map"]))
    skipped = [map_label(e, m) for e in suite.envs for m in suite.maps(e) if (e, m) not in compared]
    if skipped:
        lines.append(f"- Not compared (no MARIE run, or no other method, with evaluations in the last third): "
                     f"{markdown_text(', '.join(skipped))}; the reasons are under `tables/sample_efficiency.md`.")
    return lines
