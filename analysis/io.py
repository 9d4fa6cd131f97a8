"""Table and page writers; every file is replaced atomically (``marie.fileio``), so an interrupted analysis step never
leaves a half-written output."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from marie.fileio import atomic_write_text

HTML_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:80em} table{border-collapse:collapse;font-size:0.9em}"
    "th,td{border:1px solid #bbb;padding:3px 6px;text-align:left} th{background:#eee} caption{text-align:left;"
    "font-weight:bold;margin-bottom:0.5em}"
)


def write_text(path: str | Path, text: str) -> None:
    atomic_write_text(path, text)


def markdown_text(text: object) -> str:
    """Text from data (baseline names, provenance, notes) made inert in Markdown: HTML is escaped as entities and
    the bracket that would close a link (`](` or `][`), the backslash and the table pipe are backslash-escaped, so a
    `<script>` or `[x](javascript:...)` renders as plain text while `[0.1, 0.9]` stays as written."""
    out = html.escape(str(text), quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return out.replace("](", "\\](").replace("][", "\\][")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency); every data cell goes through `markdown_text`."""
    cells = frame.astype(object).where(frame.notna(), "")
    header = "| " + " | ".join(html.escape(str(c), quote=False).replace("|", "\\|") for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(markdown_text(v) for v in row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def html_page(title: str, body_html: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{HTML_STYLE}</style></head><body>{body_html}</body></html>\n"
    )


def write_table(frame: pd.DataFrame, path: str | Path, title: str = "", note: str = "") -> None:
    """Write a table as .csv, .md or .html, chosen by the file's suffix."""
    suffix = Path(path).suffix
    if suffix == ".csv":
        write_text(path, frame.to_csv(index=False))
    elif suffix == ".md":
        head = f"## {title}\n\n" if title else ""
        tail = "".join(f"\n{markdown_text(line)}\n" for line in note.splitlines())
        write_text(path, head + markdown_table(frame) + tail)
    elif suffix == ".html":
        table = frame.to_html(index=False, na_rep="", border=0, escape=True)
        body = (f"<h2>{html.escape(title)}</h2>" if title else "") + table
        body += "".join(f"<p>{html.escape(line)}</p>" for line in note.splitlines())
        write_text(path, html_page(title or "table", body))
    else:
        raise ValueError(f"cannot write a table to {path}: suffix {suffix!r} is not one of .csv, .md, .html")
