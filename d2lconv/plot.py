"""Figures for chapters: heatmaps of images, kernels and outputs; loss curves (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .registry import public_module
from .results import to_host

public_module(__name__)


def show_heatmaps(matrices: Sequence[Any], titles: Sequence[str], cmap: str | Sequence[str] = "gray",
                  annotate: bool = True, scale: float = 2.2):
    """Show 2-D tensors side by side; small ones get their values written in each cell.

    ``cmap`` is one colormap name or one per matrix. Large matrices (photos, edge maps) are shown
    with their 1st..99th percentile as the colour range, so a few strong pixels do not hide the rest.
    """
    cmaps = [cmap] * len(matrices) if isinstance(cmap, str) else list(cmap)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(scale * len(matrices), scale), squeeze=False)
    for ax, matrix, title, colours in zip(axes[0], matrices, titles, cmaps):
        values = to_host(matrix)
        low, high = np.nanpercentile(values, [1, 99]) if values.size > 64 else (None, None)
        image = ax.imshow(values, cmap=colours, interpolation="nearest", vmin=low, vmax=high)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if annotate and values.size <= 64:
            for (i, j), v in np.ndenumerate(values):
                red, green, blue, _ = image.cmap(image.norm(v))  # dark text on light cells
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7,
                        color="black" if light else "white")
    fig.tight_layout()
    return fig


def plot_losses(losses: Sequence[float], title: str = "squared error", log: bool = True):
    """The loss per epoch of a training run."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
