"""The report's figures: matplotlib (Agg, no pyplot state) drawn to PNG bytes for data URIs."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

Series = dict[str, tuple[list[int], list[float]]]  # label -> (iterations, values)

DPI = 72  # small files; the page shows them at their natural size


@dataclass
class Panel:
    """One axes of a figure: curves over iterations.

    Args:
        title: the axes title.
        ylabel: the y axis label.
        series: label -> (iterations, values).
        log: logarithmic y axis.
        ylim: fixed y range.
        dashed: labels drawn dashed (values that are logged but not optimised).
    """

    title: str
    ylabel: str
    series: Series
    log: bool = False
    ylim: tuple[float, float] | None = None
    dashed: set[str] = field(default_factory=set)


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def panels_png(panels: list[Panel], columns: int = 2, panel_size: tuple[float, float] = (5.6, 3.0)) -> bytes:
    """The panels in a grid of ``columns``, as one PNG."""
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    fig = _new_figure(panel_size[0] * columns, panel_size[1] * rows)
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(rows, columns, i + 1)
        for label, (its, values) in panel.series.items():
            ax.plot(its, values, label=label, linestyle="--" if label in panel.dashed else "-",
                    marker="o" if len(its) < 12 else None, markersize=3, linewidth=1.3)
        if panel.log and all(v > 0 for _, values in panel.series.values() for v in values):
            ax.set_yscale("log")
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel(panel.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        if panel.series:
            ax.legend(fontsize=7, ncol=1 + len(panel.series) // 8)
    # fixed margins in inches: tight_layout would measure every label first, doubling the cost
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.5 / height, top=1 - 0.35 / height,
                        wspace=0.22, hspace=0.45)
    return _png(fig)


def confusion_png(matrix: np.ndarray, classes: list[str]) -> bytes:
    """The confusion matrix normalised per label row (a row sums to 100%), as a heat map with the
    percentages written in when the classes are few enough to read them."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0) * 100
    n = len(classes)
    side = min(10.0, 2.2 + 0.45 * n)
    fig = _new_figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="% of the label's pixels")
    ax.set_xticks(range(n), classes, rotation=60 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted", fontsize=9)
    ax.set_ylabel("label", fontsize=9)
    if n <= 20:
        for r in range(n):
            for c in range(n):
                ax.text(c, r, f"{share[r, c]:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if share[r, c] > 50 else "black")
    fig.tight_layout()
    return _png(fig)
