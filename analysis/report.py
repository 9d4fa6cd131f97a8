"""The reproduction report (Markdown, and HTML for the Snakemake report): per map, reported vs measured, the
verdict, the protocol used and everything that differs from the paper."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.claim import claim_section
from analysis.evidence import final_label
from analysis.io import html_page, markdown_table, markdown_text, write_text
from analysis.labels import EVAL_MODE_LABELS, env_label, format_steps, map_label
from analysis.suite import Suite
from analysis.table import display_table
from analysis.world_model_quality import world_model_quality_section
from marie.config.defaults import EVAL_MODE_DEFAULTS
from marie.contract import EVAL_PREFIX

VERDICT_RULE = (
    "A verdict is computed only where our protocol matches the reported one: same simulator, same env-step "
    "budget, same evaluation mode, each stated (a reported number that does not state its evaluation mode or "
    "simulator is *not comparable*). It then says where our 95% t-interval of the mean over seeds lies relative to "
    "the reported centre \u00b1 spread: *within* (the intervals overlap), *above* or *below*. Anything else is "
    "*not comparable*, with every difference listed. When only the simulator differs (a SMAX stand-in run at the "
    "paper's budget and protocol), the comparison is shown in the column *indicative*, and it is only that. The "
    "paper prints its numbers as centre (spread) over 4 seeds without saying whether the centre is a mean or a "
    "median; they are called *reported* here."
)


def _final(table: pd.DataFrame) -> tuple[str, int]:
    if "final_statistic" not in table or table.empty:
        return "last", 5
    return str(table["final_statistic"].iloc[0]), int(table["last_k"].iloc[0])


def final_text(table: pd.DataFrame) -> str:
    return final_label(*_final(table))


def companion_text(table: pd.DataFrame) -> str:
    final, k = _final(table)
    return f"the mean of each seed's last {k} evaluations" if final == "last" else "each seed's last evaluation"


def episodes_per_evaluation(metrics: pd.DataFrame | None) -> dict[tuple[str, str], list[int]]:
    """(env, map) -> the episode counts its runs' evaluations used, as recorded (``n_episodes`` of the eval rows)."""
    if metrics is None or "n_episodes" not in metrics:
        return {}
    evals = metrics[metrics["metric"].astype(str).str.startswith(EVAL_PREFIX) & metrics["n_episodes"].notna()]
    return {
        (str(env), str(map_name)): sorted({int(n) for n in rows["n_episodes"]})
        for (env, map_name), rows in evals.groupby(["env", "map"])
    }


def _protocol_episodes(suite: Suite) -> int | None:
    return EVAL_MODE_DEFAULTS.get(suite.eval_mode, {}).get("eval.episodes")


def _episode_differences(suite: Suite, episodes: dict[tuple[str, str], list[int]]) -> list[str]:
    """One sentence per map whose evaluations used another episode count than the suite's protocol."""
    out = []
    protocol = _protocol_episodes(suite)
    for (env, map_name), counts in episodes.items():
        if protocol is not None and counts != [protocol]:
            why = (
                " (its evaluation policy is deterministic, so the episodes differ only by the reset noise; in the "
                "original code all 10 shared one seed: one trajectory, repeated)"
                if env == "mamujoco"
                else ""
            )
            out.append(
                f"{map_label(env, map_name)}: {', '.join(map(str, counts))} episodes per evaluation vs the "
                f"{suite.eval_mode} protocol's {protocol}{why}."
            )
    return out


def differences(
    suite: Suite, table: pd.DataFrame, episodes: dict[tuple[str, str], list[int]] | None = None
) -> list[str]:
    """What differs from the paper's protocol, one sentence each; ``episodes`` as :func:`episodes_per_evaluation`."""
    out = []
    if "smax" in suite.envs:
        out.append(
            "SMAC maps run on SMAX (JaxMARL), a stand-in: unit stats, terrain and dynamics differ from StarCraft II, "
            "so SMAX numbers are never SMAC numbers."
        )
    if suite.preset != "paper":
        out.append(
            f"Preset `{suite.preset}`: smaller models and fewer updates than the paper's hyperparameters "
            "(see `config.resolved.yaml` of each run)."
        )
    compared = table[table["reported_env"].astype(str) != ""]
    for _, r in compared.drop_duplicates(["env", "map"]).iterrows():
        if int(r["budget"]) != int(r["reported_budget"]):
            out.append(
                f"{map_label(r['env'], r['map'])}: budget {format_steps(r['budget'])} env steps vs the paper's "
                f"{format_steps(r['reported_budget'])}."
            )
    reported_seeds = pd.to_numeric(compared["reported_n_seeds"], errors="coerce").dropna()
    if not reported_seeds.empty and len(suite.seeds) < reported_seeds.max():
        out.append(f"{len(suite.seeds)} seeds per run vs the paper's {int(reported_seeds.max())}.")
    out += _episode_differences(suite, episodes or {})
    if "mamujoco" in suite.envs:
        out.append(
            "MAMuJoCo runs the gymnasium-robotics v5 tasks; the paper used the older v2 tasks. Its MAMuJoCo numbers "
            "exist only as curves and were read by eye (\u00b1200), so they are approximate."
        )
    uncovered = [
        f"{env_label(e)} {m}"
        for e in suite.envs
        for m in suite.maps(e)
        if table[(table["env"] == e) & (table["map"] == m)]["reported_env"].astype(str).eq("").all()
    ]
    if uncovered:
        out.append(f"No reported number exists for: {', '.join(uncovered)} (measured only).")
    return out


def protocol_table(suite: Suite, episodes: dict[tuple[str, str], list[int]] | None = None) -> pd.DataFrame:
    """One row per map; ``episodes`` (from :func:`episodes_per_evaluation`) adds the episodes per evaluation run."""
    rows = []
    for env in suite.envs:
        for map_name in suite.maps(env):
            runs = [r for r in suite.runs if r.env == env and r.map == map_name]
            rows.append(
                {
                    "env": env_label(env),
                    "map": map_name,
                    "algorithms": ", ".join(dict.fromkeys(r.algo for r in runs)),
                    "seeds": ", ".join(map(str, suite.seeds)),
                    "budget (env steps)": format_steps(runs[0].steps),
                    "preset": suite.preset,
                }
            )
            if episodes is not None:
                counts = episodes.get((env, map_name))
                rows[-1]["episodes per evaluation"] = ", ".join(map(str, counts)) if counts else "\u2014"
    return pd.DataFrame(rows)


def build_report(
    suite: Suite,
    table: pd.DataFrame,
    aggregates: pd.DataFrame,
    provenance: pd.DataFrame,
    metrics: pd.DataFrame | None = None,
    claim: pd.DataFrame | None = None,
) -> str:
    """The report's Markdown; `metrics` (the suite's collected metrics.csv) feeds the world-model section, `claim`
    (tables/sample_efficiency.csv) the sample-efficiency section."""
    episodes = episodes_per_evaluation(metrics) if metrics is not None else None
    lines = [
        f"# Reproduction report: suite `{suite.name}`",
        "",
        suite.description.strip(),
        "",
        "## Protocol used",
        "",
        f"- Evaluation: {EVAL_MODE_LABELS.get(suite.eval_mode, suite.eval_mode)}.",
        f"- Seeds: {', '.join(map(str, suite.seeds))}; final score of a seed = its {final_text(table)}"
        + (" (the paper's statistic)." if _final(table)[0] == "last" else " (`analysis.final: last_k`)."),
        f"- Our numbers: mean over seeds with a 95% Student-t interval and its n (a percentile bootstrap over 2-4 "
        f"seeds is not a 95% interval). Beside it: {companion_text(table)}, and the curve mean (area under the "
        "learning curve divided by the steps it spans).",
        "- Aggregates: IQM, median (of per-map means) and mean (of per-map means) across maps as rliable defines "
        "them, with stratified-bootstrap 95% CIs (seeds resampled within maps), which are too narrow with 2-4 seeds.",
        "",
        markdown_table(protocol_table(suite, episodes)),
        "## What differs from the paper",
        "",
        *[f"- {d}" for d in differences(suite, table, episodes)],
        "",
        "## How verdicts are decided",
        "",
        VERDICT_RULE,
        "",
        *claim_section(claim, suite),
        "",
        "## Results per map",
        "",
        "Baseline rows that were left out (another budget, eval mode, metric or map) are named under "
        "`tables/final_performance.md`.",
        "",
    ]
    shown = display_table(table)
    for (env, map_name), part in shown.groupby([table["env"], table["map"]], sort=False):
        lines += [f"### {map_label(env, map_name)}", "", markdown_table(part.drop(columns=["env", "map"])), ""]
    lines += ["## Aggregates across maps", ""]
    if aggregates.empty:
        lines.append("No aggregate could be computed (see tables/aggregates.md for why).")
    else:
        agg = aggregates.copy()
        agg["95% CI"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(agg["ci95_low"], agg["ci95_high"])]
        agg["point"] = agg["point"].map(lambda v: f"{v:.3f}")
        columns = ["env_label", "method", "statistic", "versus", "point", "95% CI", "n_maps", "n_runs"]
        columns += ["seeds_per_map"] if "seeds_per_map" in agg else []
        lines.append(markdown_table(agg[columns]))
    lines += ["", *world_model_quality_section(metrics, suite)]
    lines += ["", "## Provenance", ""]
    lines.append(f"- {len(provenance)} runs; full table in `tables/provenance.csv`.")
    for column in ("git_sha", "host", "torch", "container_image", "container_image_digest", "sc2_build"):
        if column in provenance.columns:
            values = ", ".join(sorted(provenance[column].dropna().astype(str).unique()))
            lines.append(f"- {column}: {markdown_text(values)}")
    lines += machine_lines(provenance)
    lines.append("- Reported numbers: `results/reference/` (copied from the paper's figures, see its README).")
    return "\n".join(lines) + "\n"


def machine_lines(provenance: pd.DataFrame) -> list[str]:
    """Wall-clocks only mean something against the machine: one line per (host, threads) with the matmul peak
    (and, where recorded, the memory bandwidth) each run measured at its start. Runs sharing a machine measure
    slightly different peaks (other load), so the peak is given as a range with its median rather than one line per
    value. Where the runs recorded when they finished, the line also gives their span: from the first run's start
    (its end less its training wall-clock) to the last run's end, i.e. how long the runs took together."""
    needed = {"host", "matmul_peak_gflops", "completed.wall_s"}
    if provenance.empty or not needed <= set(provenance.columns):
        return ["- Machine speed: not recorded by these runs (older runs have no `matmul_peak_gflops`)."]
    lines = []
    peaks = pd.to_numeric(provenance["matmul_peak_gflops"], errors="coerce")
    measured = provenance.assign(peak=peaks).dropna(subset=["peak"])
    # The CPU model (recorded since it was found to change the numbers) tells apart machines that share a host name.
    measured = measured.assign(cpu=measured["cpu_model"].fillna("") if "cpu_model" in measured else "")
    keys = ["host", "cpu"] + (["torch_threads"] if "torch_threads" in measured else [])
    for key, group in measured.groupby(keys, sort=True):
        wall = pd.to_numeric(group["completed.wall_s"], errors="coerce").dropna()
        threads = f" at {int(key[2])} thread(s)" if len(key) > 2 else ""
        cpu = f" ({markdown_text(key[1])})" if key[1] else ""
        low, high, median = group["peak"].min(), group["peak"].max(), group["peak"].median()
        peak = f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"
        peak += " GFLOP/s" + ("" if round(low) == round(high) else f" (median {median:.0f})")
        spent = (f"run wall-clock {wall.min():.0f}-{wall.max():.0f} s (sum {wall.sum():.0f} s)" if len(wall)
                 else "no completed run")  # fmt: skip
        if "memory_bandwidth_gbs" in group:  # recorded since the roofline bench; older runs lack it
            rates = pd.to_numeric(group["memory_bandwidth_gbs"], errors="coerce").dropna()
            if len(rates):
                low, high = rates.min(), rates.max()
                peak += f", memory bandwidth {low:.1f}" + ("" if low == high else f"-{high:.1f}") + " GB/s"
        runs = f"{len(group)} run" + ("" if len(group) == 1 else "s")
        spent += _span(group)
        lines.append(f"- Machine {markdown_text(str(key[0]))}{cpu}{threads}: matmul peak {peak}; {runs}, {spent}.")
    if measured["cpu"].astype(bool).any():
        lines.append(
            "- The runs are deterministic on one CPU model, not across models: MKL and oneDNN pick other kernels on "
            "another CPU, so the same seeds give other trajectories there (a new draw, not an error)."
        )
    return lines


def _span(group: pd.DataFrame) -> str:
    """The suffix ', span M min from the first start to the last end' for runs that recorded both, else ''."""
    if "completed.finished_at" not in group:
        return ""
    ends = pd.to_datetime(group["completed.finished_at"], utc=True, errors="coerce")
    walls = pd.to_timedelta(pd.to_numeric(group["completed.wall_s"], errors="coerce"), unit="s")
    known = ends.notna() & walls.notna()
    if not known.any():
        return ""
    span = (ends[known].max() - (ends[known] - walls[known]).min()).total_seconds()
    return f", span {span / 60:.1f} min from the first start to the last end"


def markdown_to_html(text: str) -> str:
    """Python-Markdown with raw HTML and links switched off: text from data can never become markup (data cells
    are escaped by `markdown_text` too; this is the second line of defence)."""
    import markdown  # Python-Markdown renders the tables for the Snakemake report

    md = markdown.Markdown(extensions=["tables"])
    md.preprocessors.deregister("html_block")
    for pattern in ("html", "link", "image_link", "reference", "image_reference", "short_reference",
                    "short_image_ref", "autolink", "automail"):  # fmt: skip
        if pattern in md.inlinePatterns:
            md.inlinePatterns.deregister(pattern)
    return md.convert(text)


def write_report(text: str, outputs: list[Path], title: str) -> None:
    for path in outputs:
        if Path(path).suffix == ".html":
            body = markdown_to_html(text)
            write_text(path, html_page(title, body))
        else:
            write_text(path, text)
