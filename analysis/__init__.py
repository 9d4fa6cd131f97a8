"""Analysis of the reproduction suite: run directories -> tidy table -> statistics -> figures, tables, report.

Every step is a subcommand of `python -m analysis` (see analysis/__main__.py); the Snakemake rules call them.
"""
