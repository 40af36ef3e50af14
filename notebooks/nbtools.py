"""Glue shared by the teaching notebooks (not part of the clef library).

* :func:`style`: projector-ready matplotlib defaults (110 dpi, fonts of 10 pt or more, JPEG
  outputs so the committed notebooks stay small);
* :func:`say`: show Markdown whose numbers are computed, so no model figure is ever typed by hand
  (the notebook tests refuse decimals, percentages and "N of M" counts in markdown cells);
* :func:`traces` and :func:`scale_bar`: stacked EEG traces drawn the clinical way (negative up),
  with a µV and a time scale bar;
* :func:`clinical_names`: task code -> the clinical words a neurologist would use;
* :func:`results_dir` / :func:`read_result`: the shipped full probe run, read at run time.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

ROOT = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "clef" / "__init__.py").exists()),
            Path(__file__).resolve().parents[1])
DPI = 110  # projector-ready and still small committed notebooks


def style() -> None:
    """Matplotlib defaults for a projector: 110 dpi, 10-13 pt fonts, JPEG inline figures."""
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("jpeg", pil_kwargs={"quality": 70})
    plt.rcParams.update({
        "figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (10, 4),
        "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10,
        "ytick.labelsize": 10, "legend.fontsize": 10, "figure.titlesize": 13,
        "axes.spines.top": False, "axes.spines.right": False,
    })
    pd.set_option("display.width", 130)
    pd.set_option("display.max_colwidth", 90)


def say(text: str) -> None:
    """Display Markdown built in code (numbers come from the outputs, never typed)."""
    display(Markdown(text))


def f3(x) -> str:
    """A score with three decimals, or 'n/a'."""
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{float(x):.3f}"


def traces(ax, data_uv: np.ndarray, sfreq: float, ch_names, spacing_uv: float,
           start_s: float = 0.0, color: str = "k", lw: float = 0.6,
           negative_up: bool = True, bar_uv: float | None = None) -> None:
    """Stacked EEG traces, first channel on top, clinical polarity (negative up) by default.

    data_uv : (channels, samples) in µV.
    """
    t = start_s + np.arange(data_uv.shape[1]) / sfreq
    sign = -1.0 if negative_up else 1.0
    for i, row in enumerate(data_uv):
        ax.plot(t, sign * row - i * spacing_uv, lw=lw, color=color)
    ax.set_yticks(-spacing_uv * np.arange(len(ch_names)), list(ch_names), fontsize=10)
    ax.set_xlim(t[0], t[-1])
    ax.set_xlabel("time (s)")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    scale_bar(ax, bar_uv or _nice(spacing_uv), t[-1] - 0.02 * (t[-1] - t[0]),
              -spacing_uv * (len(ch_names) - 0.2))


def _nice(x: float) -> float:
    """A round scale-bar height near x (10, 20, 50, 100, 200... µV)."""
    for v in (10, 20, 50, 100, 200, 500, 1000, 2000):
        if v >= 0.7 * x:
            return float(v)
    return float(x)


def scale_bar(ax, uv: float, x: float, y: float, seconds: float = 1.0) -> None:
    """A vertical µV bar and a horizontal 1 s bar with their bottom-right corner at (x, y)."""
    ax.plot([x, x], [y, y + uv], color="tab:red", lw=2.5, clip_on=False)
    ax.plot([x - seconds, x], [y, y], color="tab:red", lw=2.5, clip_on=False)
    ax.text(x, y + uv / 2, f" {uv:g} µV", color="tab:red", va="center", ha="left", fontsize=10,
            clip_on=False)
    ax.text(x - seconds / 2, y, f"{seconds:g} s", color="tab:red", va="top", ha="center",
            fontsize=10, clip_on=False)


def clinical_names(task_info: pd.DataFrame | None = None) -> dict[str, str]:
    """Task code -> clinical wording ('k_complexes' -> 'k-complexes'), from the task table's
    concept text, else the vocabulary's label, else the code with spaces."""
    from clef.vocabulary import VOCABULARY

    names: dict[str, str] = {k: str(v.label) for k, v in VOCABULARY.items()}
    if task_info is not None and "concept" in task_info:
        for t, c in zip(task_info["task"], task_info["concept"]):
            if isinstance(c, str) and c:
                names[str(t)] = c
    return _Names(names)


class _Names(dict):
    def __missing__(self, key):
        return str(key).replace("_", " ")


def results_dir(bundle=None) -> Path | None:
    """The shipped full probe run: the bundle's probe/ folder, else benchmarks/results/probe/."""
    cands = []
    if bundle is not None and getattr(bundle, "probe", None) is not None:
        cands.append(Path(bundle.probe))
    cands += [ROOT / "data_samples" / "probe", ROOT / "benchmarks" / "results" / "probe"]
    return next((c for c in cands if (c / "summary_table.csv").is_file()), None)


def read_result(name: str, bundle=None, **kw) -> pd.DataFrame | None:
    """A CSV of the shipped probe run (e.g. 'summary_table.csv'), or None when absent."""
    d = results_dir(bundle)
    if d is None or not (d / name).is_file():
        return None
    return pd.read_csv(d / name, **kw)
