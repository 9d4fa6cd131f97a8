"""`python -m analysis <command>`: the analysis steps the workflow runs (each also usable by hand).

  collect      run directories -> results/<suite>/metrics.csv (+ provenance table)
  curves       learning curves of one env family (PNG/PDF)
  table        final performance per map x method with the reported numbers and verdicts (CSV/MD/HTML), and
               with --claim-out the sample-efficiency claim per map (last third of the budget)
  aggregates   IQM/median/mean and probability of improvement across maps (tables and figures)
  report       the reproduction report (Markdown/HTML)
  marl-eval    export to marl-eval's JSON format
  reference    regenerate results/baselines/paper_reported_*.csv from results/reference/
  validate-baselines  check baseline CSVs without running anything
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from analysis.baselines import BaselineError, load_baselines
from analysis.evidence import FINAL_STATISTICS
from analysis.marl_eval import ExportError
from analysis.runs import RunError
from analysis.suite import ConfigError, load_suite


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", required=True, help="suite name or path of its YAML file")
    parser.add_argument("--metrics", required=True, type=Path, help="results/<suite>/metrics.csv")
    parser.add_argument("--baseline", action="append", default=[], type=Path, help="a baseline CSV (repeatable)")
    parser.add_argument("--band", default="sd", choices=["sd", "minmax"])
    parser.add_argument("--bootstrap-samples", type=int, default=2000)
    parser.add_argument("--bootstrap-seed", type=int, default=0)
    parser.add_argument("--curve-points", type=int, default=100)
    parser.add_argument("--normalisation", default="{}", help="JSON: map -> [low, high] for return envs")
    parser.add_argument(
        "--final", default="last", choices=list(FINAL_STATISTICS),
        help="final score of a seed: its last evaluation (the paper's) or the mean of its last --last-k evaluations",
    )  # fmt: skip
    parser.add_argument("--last-k", type=_positive, default=5, help="evaluations averaged by --final last_k")
    parser.add_argument("--out", action="append", default=[], type=Path, help="output file (repeatable)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("collect", help="merge run directories into one tidy table")
    p.add_argument("--runs", required=True, type=Path, help="results/runs/<suite>")
    p.add_argument("--suite", help="suite name or YAML; then exactly its runs are collected and checked")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--provenance", action="append", default=[], type=Path)
    p = sub.add_parser("curves", help="learning curves of one env family")
    _common(p)
    p.add_argument("--env", required=True)
    p = sub.add_parser("table", help="final performance table")
    _common(p)
    p.add_argument("--claim-out", action="append", default=[], type=Path,
                   help="the sample-efficiency claim per map (last third of the budget) as .csv/.md/.html (repeatable)")
    p = sub.add_parser("aggregates", help="aggregates across maps")
    _common(p)
    p.add_argument("--figure", action="append", default=[], type=Path)
    p.add_argument("--poi-figure", action="append", default=[], type=Path)
    p = sub.add_parser("report", help="reproduction report")
    p.add_argument("--suite", required=True)
    p.add_argument("--table", required=True, type=Path)
    p.add_argument("--aggregates", required=True, type=Path)
    p.add_argument("--provenance", required=True, type=Path)
    p.add_argument(
        "--metrics",
        type=Path,
        help="collected metrics.csv, for the world-model section (default: <table's folder>/../metrics.csv if present)",
    )
    p.add_argument("--claim", type=Path,
                   help="the sample-efficiency claim CSV (default: <table's folder>/sample_efficiency.csv if present)")
    p.add_argument("--out", action="append", default=[], type=Path)
    p = sub.add_parser("marl-eval", help="export to marl-eval JSON")
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    sub.add_parser("reference", help="regenerate the paper's reported rows in results/baselines/")
    p = sub.add_parser("validate-baselines", help="check baseline CSVs")
    p.add_argument("paths", nargs="+", type=Path)
    return parser


def run(args: argparse.Namespace) -> None:
    if args.command == "collect":
        from analysis.collect import collect

        suite = load_suite(args.suite) if args.suite else None
        table = collect(args.runs, args.out, suite, args.provenance)
        print(f"collected {table.groupby(['env', 'map', 'algo', 'seed']).ngroups} runs, {len(table)} rows -> {args.out}")
    elif args.command in ("curves", "table", "aggregates"):
        from analysis.evidence import load_evidence

        suite = load_suite(args.suite)
        evidence = load_evidence(suite, args.metrics, args.baseline, final=args.final, last_k=args.last_k)
        for note in evidence.notes:
            print(f"note: {note}")
        if args.command == "curves":
            from analysis.curves import plot_learning_curves

            if args.env not in suite.envs:
                raise ConfigError(f"--env {args.env!r} is not in suite {suite.name} ({', '.join(suite.envs)})")
            plot_learning_curves(evidence, args.env, args.out, band=args.band, points=args.curve_points)
        elif args.command == "table":
            from analysis.io import write_table
            from analysis.table import display_table, final_table

            table = final_table(evidence)
            title = f"Final performance, suite '{suite.name}' (eval mode {suite.eval_mode})"
            note = "\n".join(
                ["SMAX rows are SMAX stand-ins compared with reported SMAC numbers; see the verdict rule in the report.",
                 *(f"Note: {n}" for n in evidence.notes)]
            )  # fmt: skip
            for path in args.out:
                write_table(table if path.suffix == ".csv" else display_table(table), path, title=title, note=note)
            if args.claim_out:
                from analysis.claim import TITLE, claim_table, display_claim, seeds_caveat, summary_lines

                claim, claim_notes = claim_table(evidence)
                lines = [*summary_lines(claim), *([seeds_caveat(claim)] if len(claim) else []),
                         *(f"Note: {n}" for n in claim_notes + evidence.notes)]  # fmt: skip
                for path in args.claim_out:
                    shown = claim if path.suffix == ".csv" else display_claim(claim)
                    write_table(shown, path, title=f"{TITLE}, suite '{suite.name}'", note="\n".join(lines))
        else:
            from analysis.aggregates import (
                aggregate_table,
                display_aggregates,
                plot_aggregates,
                plot_probability_of_improvement,
            )
            from analysis.io import write_table

            table, notes = aggregate_table(
                evidence, json.loads(args.normalisation), args.bootstrap_samples, args.bootstrap_seed
            )
            note = "\n".join([*notes, *(f"Note: {n}" for n in evidence.notes)])
            for path in args.out:
                write_table(
                    table if path.suffix == ".csv" else display_aggregates(table),
                    path,
                    title=f"Aggregates across maps, suite '{suite.name}' (stratified-bootstrap 95% CIs)",
                    note=note,
                )
            plot_aggregates(table, evidence, notes, args.figure)
            plot_probability_of_improvement(table, evidence, args.poi_figure)
    elif args.command == "report":
        from analysis.report import build_report, write_report

        suite = load_suite(args.suite)
        table = pd.read_csv(args.table)
        text_columns = ["reported_env", "reported_simulator", "reported_eval_mode", "reported_source", "measured_source",
                        "verdict", "indicative", "interval"]  # fmt: skip
        text_columns = [c for c in text_columns if c in table]
        table[text_columns] = table[text_columns].fillna("")
        # The workflow writes tables/ beside the suite's collected metrics.csv, so that is the default source.
        metrics_path = args.metrics or args.table.parent.parent / "metrics.csv"
        columns = ["env", "map", "algo", "seed", "step", "metric", "value", "n_episodes"]
        metrics = pd.read_csv(metrics_path, usecols=columns) if args.metrics or metrics_path.is_file() else None
        claim_path = args.claim or args.table.parent / "sample_efficiency.csv"
        if args.claim and not args.claim.is_file():
            raise ConfigError(f"--claim {args.claim}: no such file (`python -m analysis table --claim-out` writes it)")
        claim = pd.read_csv(claim_path) if claim_path.is_file() else None
        text = build_report(suite, table, pd.read_csv(args.aggregates), pd.read_csv(args.provenance), metrics, claim)
        write_report(text, args.out, title=f"Reproduction report: suite {suite.name}")
    elif args.command == "marl-eval":
        from analysis.marl_eval import export

        for line in export(args.metrics, args.out):
            print(f"note: {line}")
    elif args.command == "reference":
        from analysis.reference import convert_reference

        for path in convert_reference():
            print(f"wrote {path}")
    elif args.command == "validate-baselines":
        frame = load_baselines(args.paths)
        print(f"ok: {len(frame)} rows ({int(frame['summary'].sum())} summary, {int((~frame['summary']).sum())} per-seed)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (RunError, BaselineError, ConfigError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
