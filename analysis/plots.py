"""Figure helpers shared by the curves and aggregate figures: titles that always fit, and saving."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

MIN_FONTSIZE = 6.0


def _fit(text: Text, max_width: float, renderer) -> None:
    """Re-wrap each line of `text` (then shrink its font) until it is at most `max_width` pixels wide."""
    lines = text.get_text().split("\n")
    while True:
        fitted = []
        for line in lines:
            width = len(line)
            text.set_text(line)
            while width > 8 and text.get_window_extent(renderer).width > max_width:
                width = int(width * 0.9)
                text.set_text(textwrap.fill(line, width))
            fitted.append(text.get_text())
        text.set_text("\n".join(fitted))
        if text.get_window_extent(renderer).width <= max_width or text.get_fontsize() <= MIN_FONTSIZE:
            return
        text.set_fontsize(text.get_fontsize() - 1)


def fit_titles(fig: Figure, passes: int = 2) -> None:
    """Wrap the figure's suptitle to its width and every axes title to its axes' width, then lay out again, so
    that no title is cut at the figure's edge or runs into its neighbour."""
    for _ in range(passes):
        fig.tight_layout()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            if ax.get_visible() and ax.title.get_text():
                _fit(ax.title, ax.bbox.width, renderer)
        if fig._suptitle is not None:  # matplotlib keeps the suptitle only here
            _fit(fig._suptitle, 0.98 * fig.bbox.width, renderer)
    fig.tight_layout()


def texts_outside(fig: Figure) -> list[str]:
    """Drawn texts that extend past the figure's edges (what a reader would see cut off): titles, legends and
    annotations by their text, each axes' tick and axis labels together (named by the axes' title)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bounds = fig.bbox
    inside = lambda box: (box.x0 >= bounds.x0 - 1 and box.x1 <= bounds.x1 + 1  # noqa: E731
                          and box.y0 >= bounds.y0 - 1 and box.y1 <= bounds.y1 + 1)  # fmt: skip
    axis_texts = set()
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis_texts.update({axis.label, axis.get_offset_text()})
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                axis_texts.update({tick.label1, tick.label2})
        if ax.get_visible() and not inside(ax.get_tightbbox(renderer)):
            out.append(f"labels of axes {ax.get_title()!r}")
    for text in fig.findobj(Text):
        if text in axis_texts or not text.get_visible() or not text.get_text().strip() or not _drawn(text):
            continue
        if not inside(text.get_window_extent(renderer)):
            out.append(text.get_text())
    return out


def _drawn(text: Text) -> bool:
    axes = text.axes
    return axes is None or axes.get_visible()


def save(fig: Figure, outputs: list[Path], dpi: int = 120) -> None:
    for path in outputs:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    plt.close(fig)
