"""Probe results on disk: ``results.csv``, ``summary.md`` with the issue's targets, and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from clef.fileio import atomic_write, atomic_write_text
from clef.probe.battery import Summary
from clef.probe.zeroshot import GROUP_HELD_OUT, GROUP_NAMED

# The targets of the probing issue (synthetic benchmark, site-A held-out patients).
TARGETS = {
    "recon_margin": 0.04,  # CLEF mean AUROC - reconstruction-only mean >= this
    "short_margin": 0.06,  # CLEF mean AUROC - short-window mean >= this
    # (The probing issue's "CLEF beats short-window on 85% of tasks" is retired by the EEG-side
    # issue: the generator's own oracle beats short-window on only 84% of this battery.)
    "bandpower_margin": 0.0,  # CLEF mean AUROC - band power >= this (overall and on findings)
    "recon_over_random": 0.05,  # reconstruction-only mean AUROC - random-initialised >= this
    "clef_overall": 0.783,  # CLEF overall mean AUROC does not fall below the 2026-12-02 value
    "site_b_drop": 0.03,  # CLEF mean AUROC drop from site A to site B <= this
    # Clinical-semantics issue: zero-shot on site-A held-out patients.
    "zs_named": 0.85,  # zero-shot mean AUROC, concepts named in training reports >= this
    "zs_held_out": 0.75,  # zero-shot mean AUROC, held-out concepts >= this
    "zs_named_min": 0.60,  # no concept named in training reports below this
    "zs_unseen": 0.80,  # mean AUROC of the clinician query set (unseen phrasings) >= this
}


def atomic_write_csv(df: pd.DataFrame, path, **kw) -> None:
    """``df.to_csv(path, **kw)`` written atomically (:func:`clef.fileio.atomic_write`)."""
    atomic_write(path, lambda tmp: df.to_csv(tmp, **kw))


def site_drop(results: pd.DataFrame, home: str = "test", external: str = "B") -> dict:
    """Mean AUROC on the home test set and on an external one, over tasks scored on both."""
    ok = results[results["status"] == "ok"]
    a = ok[ok["test_set"] == home].set_index("task")["auroc"]
    b = ok[ok["test_set"] == external].set_index("task")["auroc"]
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return {"n_tasks": 0, "home": np.nan, "external": np.nan, "drop": np.nan}
    ma, mb = float(a[common].mean()), float(b[common].mean())
    return {"n_tasks": len(common), "home": ma, "external": mb, "drop": ma - mb}


def evaluate_targets(summary: Summary, results_by_rep: dict, zs_summary: pd.DataFrame | None,
                     clef: str = "clef", recon: str = "recon", short: str = "short-window",
                     external: str = "B", zeroshot: pd.DataFrame | None = None,
                     semantics: dict | None = None) -> pd.DataFrame:
    """The issue's targets, each "met", "missed" or "not measured" (never softened).

    Returns
    -------
    DataFrame
        target, value, threshold, status.
    """
    t = summary.table
    rows = []

    def add(name, value, threshold, ok, note=""):
        status = "not measured" if value is None or not np.isfinite(value) else (
            "met" if ok(value) else "missed")
        rows.append({"target": name, "value": np.nan if value is None else value,
                     "threshold": threshold, "status": status, "note": note})

    have = set(t.index)
    overall = t["overall"] if "overall" in t.columns else pd.Series(dtype=float)
    margin = (lambda other: float(overall[clef] - overall[other])
              if {clef, other} <= have else None)
    # Context only (the thresholds never move): what the generator's ground truth reaches.
    ceiling = (lambda other: f"oracle - {other}: {overall['oracle'] - overall[other]:.3f}"
               if {"oracle", other} <= have else "")
    add("CLEF mean AUROC - reconstruction-only", margin(recon), f">= {TARGETS['recon_margin']}",
        lambda v: v >= TARGETS["recon_margin"], ceiling(recon))
    add("CLEF mean AUROC - short-window", margin(short), f">= {TARGETS['short_margin']}",
        lambda v: v >= TARGETS["short_margin"], ceiling(short))
    _eeg_side_targets(add, t, clef, recon)
    drop = None
    note = ""
    if clef in results_by_rep:
        d = site_drop(results_by_rep[clef], external=external)
        drop = d["drop"] if d["n_tasks"] else None
        note = (f"site A {d['home']:.3f} vs site {external} {d['external']:.3f} over "
                f"{d['n_tasks']} tasks") if d["n_tasks"] else ""
    add(f"CLEF mean AUROC drop, site A -> site {external}", drop,
        f"<= {TARGETS['site_b_drop']}", lambda v: v <= TARGETS["site_b_drop"], note)
    for group, key in ((GROUP_NAMED, "zs_named"), (GROUP_HELD_OUT, "zs_held_out")):
        v = None
        n = ""
        if zs_summary is not None and group in zs_summary.index:
            v = zs_summary.loc[group, "mean_auroc"]
            n = f"{int(zs_summary.loc[group, 'n_tasks']) if np.isfinite(v) else 0} concepts"
        add(f"zero-shot mean AUROC, {group} concepts", v, f">= {TARGETS[key]}",
            lambda x, k=key: x >= TARGETS[k], n)
    _semantic_targets(add, zeroshot, semantics)
    return pd.DataFrame(rows)


def _eeg_side_targets(add, t: pd.DataFrame, clef: str, recon: str, bandpower: str = "band-power",
                      random: str = "random") -> None:
    """CLEF against hand-made band power (overall and on findings), stage 1 against random
    weights, and CLEF's overall AUROC against its value before the semantics work."""
    have = set(t.index)

    def diff(a, b, col="overall"):
        ok = {a, b} <= have and col in t.columns
        return float(t.loc[a, col] - t.loc[b, col]) if ok else None

    def note(a, b, col="overall"):
        return f"{t.loc[a, col]:.3f} vs {t.loc[b, col]:.3f}" if {a, b} <= have and col in t else ""

    thr = TARGETS["bandpower_margin"]
    add("CLEF mean AUROC - band power", diff(clef, bandpower), f">= {thr}", lambda v: v >= thr,
        note(clef, bandpower))
    add("CLEF findings mean AUROC - band power", diff(clef, bandpower, "finding"), f">= {thr}",
        lambda v: v >= thr, note(clef, bandpower, "finding"))
    thr = TARGETS["recon_over_random"]
    add("reconstruction-only mean AUROC - random-initialised", diff(recon, random), f">= {thr}",
        lambda v: v >= thr, note(recon, random))
    v = float(t.loc[clef, "overall"]) if clef in have and "overall" in t.columns else None
    add("CLEF mean AUROC, all tasks", v, f">= {TARGETS['clef_overall']}",
        lambda x: x >= TARGETS["clef_overall"], "linear probe; 0.783 before the semantics work")


def _semantic_targets(add, zeroshot: pd.DataFrame | None, semantics: dict | None) -> None:
    """Lowest named concept, the unseen-phrasings mean and the tower-vs-backbone check."""
    if zeroshot is not None and len(zeroshot):
        ok = zeroshot[(zeroshot["status"] == "ok") & (zeroshot["group"] == GROUP_NAMED)]
        worst = ok.loc[ok["auroc"].idxmin()] if len(ok) else None
        add("lowest zero-shot AUROC, concepts named in training reports",
            None if worst is None else float(worst["auroc"]), f">= {TARGETS['zs_named_min']}",
            lambda v: v >= TARGETS["zs_named_min"],
            "" if worst is None else str(worst["task"]))
    if semantics is None:
        return
    per_task = semantics["unseen"].groupby("task")["auroc"].mean()
    add("zero-shot mean AUROC, unseen phrasings", float(per_task.mean()) if len(per_task)
        else None, f">= {TARGETS['zs_unseen']}", lambda v: v >= TARGETS["zs_unseen"],
        f"{len(semantics['unseen'])} queries over {len(per_task)} concepts")
    ts = semantics["text_side"]
    rep = ts[ts["text"] == "report"].dropna(subset=["tower", "backbone"])
    lost = rep[rep["tower"] < rep["backbone"] - 1e-3]  # ties up to float noise are not losses
    add("text side: concepts where the tower loses to the raw backbone (report text)",
        float(len(lost)) if len(rep) else None, "= 0", lambda v: v == 0,
        ", ".join(f"{t} ({a:.3f} < {b:.3f})" for t, a, b in
                  lost[["task", "tower", "backbone"]].itertuples(index=False)))


PREVIOUS_FILES = {"zeroshot": "zeroshot.csv", "unseen": "zeroshot_unseen_phrasings.csv",
                  "text_side": "text_side.csv"}


def read_previous(folder) -> dict:
    """An earlier ``clef probe`` output folder's semantic tables, to print next to this run's.

    Parameters
    ----------
    folder : path
        Output folder of an earlier run.

    Returns
    -------
    dict
        ``label`` (the folder and its checkpoint) and ``zeroshot`` / ``unseen`` / ``text_side``
        (DataFrame, or None where the earlier run did not write that file).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--compare-to {folder}: no such folder. Fix: give the output "
                                "folder of an earlier `clef probe` run.")
    out = {k: pd.read_csv(folder / f) if (folder / f).exists() else None
           for k, f in PREVIOUS_FILES.items()}
    if all(v is None for v in out.values()):
        raise ValueError(f"--compare-to {folder} holds none of {', '.join(PREVIOUS_FILES.values())}"
                         ": not a `clef probe` output folder.")
    label = f"`{folder}`"
    if (folder / "run.json").exists():
        label += f" (checkpoint `{json.loads((folder / 'run.json').read_text()).get('checkpoint')}`)"
    out["label"] = label
    return out


def _before_zeroshot(zeroshot: pd.DataFrame, before: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per-task table with ``before`` and ``change`` columns, and the group means on the tasks
    both runs scored."""
    b = before[before["status"] == "ok"].set_index("task")["auroc"]
    zs = zeroshot.assign(before=zeroshot["task"].map(b))
    zs["change"] = zs["auroc"] - zs["before"]
    both = zs[(zs["status"] == "ok") & zs["before"].notna()]
    g = both.groupby("group").agg(now=("auroc", "mean"), before=("before", "mean"),
                                  n_tasks=("auroc", "size"))
    return zs, _md(g)


def _md(df: pd.DataFrame, floatfmt: str = ".3f", index: bool = True) -> str:
    """A small markdown table without the optional `tabulate` dependency."""
    d = df.reset_index() if index else df.copy()

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else format(v, floatfmt)
        return "" if v is None else str(v)

    head = "| " + " | ".join(map(str, d.columns)) + " |"
    sep = "|" + "|".join("---" for _ in d.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in d.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def write_summary_md(path, *, summary: Summary, summary_ext: Summary | None,
                     results_long: pd.DataFrame, targets: pd.DataFrame,
                     zeroshot: pd.DataFrame | None, zs_summary: pd.DataFrame | None,
                     meta: dict, failed: dict, external: str = "B",
                     semantics: dict | None = None, before: dict | None = None,
                     appendix: str = "") -> None:
    """Write ``summary.md``: headline tables, targets, zero-shot, skipped tasks, provenance;
    with ``before`` (:func:`read_previous`), an earlier run's semantic numbers next to these;
    ``appendix`` (markdown, its headings moved one level down) after the zero-shot sections."""
    L = [f"# Probe results: {meta.get('cohort', '')}", ""]
    if meta.get("command"):
        L += ["Made with:", "", "```", meta["command"], "```", ""]
    for k in ("cohort_kind", "n_sessions", "n_train", "n_test", "n_external", "representations",
              "n_boot", "seed", "elapsed_s"):
        if k in meta:
            L.append(f"- {k.replace('_', ' ')}: {meta[k]}")
    for name, src in (meta.get("sources") or {}).items():
        L.append(f"- source of {name}: `{src}`")
    L += ["", "## Targets (site-A held-out patients)", "", _md(targets, index=False), ""]
    L += [f"## Linear probes, site-A held-out patients ({summary.n_tasks} tasks)", "",
          ("Mean AUROC per category and overall (mean over tasks), on the tasks every "
          "representation was scored on."), "", _md(summary.table), ""]
    L += ["### Tasks on which the row beats the column", "", _md(summary.beats), ""]
    if summary_ext is not None and summary_ext.n_tasks:
        L += [(f"## External site {external} (probes trained on site A, {summary_ext.n_tasks} "
              "tasks)"), "", _md(summary_ext.table), ""]
    if zeroshot is not None and len(zeroshot):
        L += ["## Zero-shot concept scoring (site-A held-out patients)", ""]
        if zs_summary is not None:
            L += [_md(zs_summary), ""]
        zs = zeroshot[["task", "group", "status", "auroc", "ci_low", "ci_high", "n_pos",
                       "n_train_reports_naming"]]
        if before is not None and before.get("zeroshot") is not None:
            zs, groups = _before_zeroshot(zs, before["zeroshot"])
            L += [f"`before`: {before['label']}. Means on the tasks both runs scored:", "",
                  groups, ""]
        L += [_md(zs, index=False), ""]
    if semantics is not None:
        L += _semantics_md(semantics, before)
    if appendix.strip():
        L += [("#" + line if line.startswith("#") else line) for line in appendix.splitlines()]
        L.append("")
    if summary.n_tasks:
        per = summary.wide.copy()
        L += ["## Per-task AUROC (site-A held-out patients)", "", _md(per), ""]
    skipped = results_long[results_long["status"] == "skipped"]
    if len(skipped):
        sk = skipped.drop_duplicates(["task", "test_set"])[["task", "category", "test_set",
                                                             "reason"]]
        L += [f"## Skipped tasks ({sk['task'].nunique()})", "", _md(sk, index=False), ""]
    if failed:
        L += [f"## Sessions that could not be loaded ({len(failed)})", ""]
        L += [f"- {k}: {v}" for k, v in list(failed.items())[:50]]
        L.append("")
    atomic_write_text(path, "\n".join(L))


def _semantics_md(semantics: dict, before: dict | None = None) -> list[str]:
    """Markdown sections for the unseen-phrasings set and the text-side diagnostic (with an
    earlier run's numbers in ``before`` columns)."""
    L = []
    un = semantics["unseen"]
    before = before or {}
    if len(un):
        per = un.groupby("task").agg(mean_auroc=("auroc", "mean"), min_auroc=("auroc", "min"),
                                     n_queries=("auroc", "size"), n_pos=("n_pos", "first"))
        note = ""
        if before.get("unseen") is not None and len(before["unseen"]):
            per["before"] = before["unseen"].groupby("task")["auroc"].mean()
            note = f" `before`: {before['label']}, {per['before'].mean():.3f}."
        L += ["## Zero-shot, unseen phrasings (clinician query set, site-A held-out patients)", "",
              (f"{len(un)} queries written the way clinicians type them "
               "(`benchmarks/queries/unseen_phrasings.yaml`), scored through the dashboard's "
               f"query path. Mean over concepts: {per['mean_auroc'].mean():.3f}.{note}"), "",
              _md(per), ""]
    ts = semantics["text_side"]
    if len(ts):
        L += ["## Text-side diagnostic (no EEG)", "",
              ("Held-out sessions ranked by the cosine between their own report text and each "
               "concept's prompts, through the text tower and through the raw frozen "
               "backbone. `report`: the preprocessed report; `findings summary`: its affirmed "
               "statements."), ""]
        means = ts.groupby("text")[["tower", "backbone"]].mean()
        wide = ts.pivot(index="task", columns="text", values=["tower", "backbone"])
        wide.columns = [f"{a} ({b})" for a, b in wide.columns]
        if before.get("text_side") is not None and len(before["text_side"]):
            old = before["text_side"]
            means["tower before"] = old.groupby("text")["tower"].mean()
            old = old.pivot(index="task", columns="text", values="tower")
            for col in old.columns:
                wide[f"tower before ({col})"] = old[col]
            L += [f"`tower before`: the text tower of {before['label']}.", ""]
        L += [_md(means), ""]
        L += [_md(wide), ""]
    return L


def write_plots(out_dir, summary: Summary, reference: str = "clef") -> list[Path]:
    """Per-category bars and per-task scatter (reference vs each other representation), PNG.

    Returns the written paths (empty when matplotlib is unavailable or nothing was scored).
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional; tables are always written
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    t = summary.table.drop(columns=["n_tasks"], errors="ignore")
    if summary.n_tasks and len(t):
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(t.columns), 3.6))
        w = 0.8 / len(t.index)
        x = np.arange(len(t.columns))
        for i, rep in enumerate(t.index):
            ax.bar(x + i * w - 0.4 + w / 2, t.loc[rep].to_numpy(float), w, label=rep)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xticks(x, t.columns)
        ax.set_ylim(0.4, 1.0)
        ax.set_ylabel("mean AUROC")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(f"Linear probes by category ({summary.n_tasks} tasks)")
        fig.tight_layout()
        p = out_dir / "category_bars.png"
        _savefig(fig, p)
        plt.close(fig)
        written.append(p)
    others = [c for c in summary.wide.columns if c != reference]
    if reference in summary.wide.columns and others and summary.n_tasks:
        fig, axes = plt.subplots(1, len(others), figsize=(3.2 * len(others), 3.3), squeeze=False)
        cats = summary.category.reindex(summary.wide.index).fillna("other")
        for ax, other in zip(axes[0], others):
            for c in dict.fromkeys(cats):
                sel = (cats == c).to_numpy()
                ax.scatter(summary.wide[other][sel], summary.wide[reference][sel], s=10, label=c)
            ax.plot([0.3, 1], [0.3, 1], color="grey", lw=0.8)
            ax.set_xlim(0.3, 1)
            ax.set_ylim(0.3, 1)
            ax.set_xlabel(f"{other} AUROC")
            ax.set_ylabel(f"{reference} AUROC")
            ax.set_title(f"{int(summary.beats.loc[reference, other])}/{summary.n_tasks} above")
        axes[0][0].legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        p = out_dir / "task_scatter.png"
        _savefig(fig, p)
        plt.close(fig)
        written.append(p)
    return written


def _savefig(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110), keep_suffix=True)
