"""Showing training as it goes: d2l's ``ProgressBoard`` (live curves in a notebook) and a terminal
progress bar (tqdm, when installed).

d2l's board redraws the whole figure on every point it is given; this one only collects points
and redraws when the trainer flushes it (once per epoch, or after a few seconds), updating the
figure it already displayed in place of adding a new one.
"""

from __future__ import annotations

import collections
import sys
import time
from typing import Any

from ..registry import public


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (figures can be displayed and updated)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


@public
class ProgressBoard:
    """Curves of named series against ``x`` (epochs), with points averaged ``every_n`` at a time."""

    def __init__(self, xlabel: str | None = None, ylabel: str | None = None, xlim: Any = None,
                 ylim: Any = None, xscale: str = "linear", yscale: str = "linear",
                 ls: tuple[str, ...] = ("-", "--", "-.", ":"), colors: tuple[str, ...] = ("C0", "C1", "C2", "C3"),
                 figsize: tuple[float, float] = (3.5, 2.5), display: bool = True,
                 min_interval: float = 3.0) -> None:
        self.xlabel, self.ylabel, self.xlim, self.ylim = xlabel, ylabel, xlim, ylim
        self.xscale, self.yscale, self.ls, self.colors = xscale, yscale, ls, colors
        self.figsize, self.display, self.min_interval = figsize, display, min_interval
        self.data: dict[str, list[tuple[float, float]]] = collections.OrderedDict()
        self._pending: dict[str, list[tuple[float, float]]] = {}
        self._handle: Any = None
        self._last_draw = 0.0
        self.fig: Any = None

    def draw(self, x: float, y: float, label: str, every_n: int = 1) -> None:
        """Add a point to series ``label``; every ``every_n`` points become one (their mean)."""
        pending = self._pending.setdefault(label, [])
        pending.append((float(x), float(y)))
        if len(pending) < max(1, int(every_n)):
            return
        xs, ys = zip(*pending)
        self.data.setdefault(label, []).append((xs[-1], sum(ys) / len(ys)))
        pending.clear()

    def flush(self, force: bool = True) -> None:
        """Redraw the figure in the notebook (``force=False``: only if ``min_interval`` seconds passed)."""
        if not (self.display and in_notebook()) or not self.data:
            return
        if not force and time.monotonic() - self._last_draw < self.min_interval:
            return
        self.figure()
        from IPython.display import display

        if self._handle is None:
            self._handle = display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)
        self._last_draw = time.monotonic()

    def figure(self) -> Any:
        """The curves as a matplotlib figure (made once, redrawn with the points so far)."""
        import matplotlib.pyplot as plt

        if self.fig is None:
            self.fig, self.axes = plt.subplots(figsize=self.figsize)
            plt.close(self.fig)  # shown through display(), not again by the inline backend
        ax = self.axes
        ax.cla()
        for (label, points), ls, color in zip(self.data.items(), _cycle(self.ls), _cycle(self.colors)):
            xs, ys = zip(*points)
            sparse = len(points) <= 12  # a series of a point per epoch: mark its points, or one is invisible
            ax.plot(xs, ys, linestyle=ls, color=color, label=label, marker="o" if sparse else None, markersize=3)
        ax.set_xlabel(self.xlabel or "epoch")
        if self.ylabel:
            ax.set_ylabel(self.ylabel)
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        self.fig.tight_layout()
        return self.fig


def _cycle(items: tuple[str, ...]) -> Any:
    while True:
        yield from items


class TerminalProgress:
    """A tqdm bar over every training step of a fit, if tqdm is installed and stderr is a terminal;
    a line per epoch when stderr is a file or a pipe (a log); nothing in a notebook (the board
    shows progress there) or with ``enabled=False``."""

    def __init__(self, total: int, enabled: bool | None, initial: int = 0) -> None:
        self.bar: Any = None
        self.enabled = (not in_notebook()) if enabled is None else enabled
        if not self.enabled or (enabled is None and not sys.stderr.isatty()):
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, file=sys.stderr)

    def step(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.bar.n % 10 == 0:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def epoch(self, epoch: int, max_epochs: int, metrics: dict[str, float]) -> None:
        text = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch}/{max_epochs}")
            self.bar.write(f"epoch {epoch}/{max_epochs}: {text}", file=sys.stderr)
        elif self.enabled:
            print(f"epoch {epoch}/{max_epochs}: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
