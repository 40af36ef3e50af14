"""The task battery: one linear probe per task on frozen session features, AUROC tables, "beats"."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from clef.errors import InvalidCohort
from clef.metrics import auroc, bootstrap_auroc
from clef.probe.linear import ProbeConfig, fit_probe
from clef.probe.splits import check_no_leakage

CATEGORIES = ("phenotype", "medication", "finding", "demographic")
RESULT_COLUMNS = ["task", "category", "held_out", "concept", "test_set", "status", "reason",
                  "auroc", "ci_low", "ci_high", "n_train", "n_pos_train", "n_test", "n_pos_test",
                  "C", "cv_auroc"]


@dataclass
class BatteryConfig:
    """Settings of the probe battery."""

    min_pos_train: int = 10  # positives and negatives needed in train to fit a task's probe
    min_pos_test: int = 5  # positives and negatives needed in a test set to report an AUROC
    probe: ProbeConfig = field(default_factory=ProbeConfig)


def feature_matrix(X, sessions_df: pd.DataFrame, ids) -> np.ndarray:
    """Rows of ``X`` for the session ids ``ids``.

    Parameters
    ----------
    X : array (n_sessions, d) in ``sessions_df`` row order, or DataFrame indexed by session_id
    sessions_df : DataFrame with ``session_id``
    ids : sequence of str

    Returns
    -------
    np.ndarray, shape (len(ids), d)
    """
    ids = [str(i) for i in ids]
    if isinstance(X, pd.DataFrame):
        X = X.copy()
        X.index = X.index.astype(str)
        missing = [i for i in ids if i not in X.index]
        if missing:
            raise InvalidCohort(f"features lack {len(missing)} session(s), e.g. {missing[:3]}. "
                                "Fix: compute the representation for every session.")
        return X.loc[ids].to_numpy(dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != len(sessions_df):
        raise ValueError(f"features have shape {X.shape}; expected ({len(sessions_df)}, d) in "
                         "sessions_df row order, or a DataFrame indexed by session_id.")
    pos = pd.Series(np.arange(len(sessions_df)), index=sessions_df["session_id"].astype(str))
    missing = [i for i in ids if i not in pos.index]
    if missing:
        raise InvalidCohort(f"{len(missing)} session id(s) not in the sessions table, e.g. "
                            f"{missing[:3]}.")
    return X[pos.loc[ids].to_numpy()]


def _labels(labels_wide: pd.DataFrame, task: str, ids) -> np.ndarray:
    col = labels_wide[task].reindex([str(i) for i in ids])
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)  # NaN = unlabelled


def _skip(base: dict, test_set: str, reason: str) -> dict:
    return {**base, "test_set": test_set, "status": "skipped", "reason": reason}


def probe_tasks(X, sessions_df: pd.DataFrame, labels_wide: pd.DataFrame, task_info: pd.DataFrame,
                train_ids, test_ids, n_boot: int = 200, seed: int = 0, *,
                external: dict | None = None, config: BatteryConfig | None = None,
                progress: bool = False, desc: str = "probes") -> pd.DataFrame:
    """Fit one probe per task on the training sessions and score it on each test set.

    Parameters
    ----------
    X : array (n_sessions, d) in ``sessions_df`` order, or DataFrame indexed by session_id
        Frozen session representation.
    sessions_df : DataFrame
        Needs ``session_id`` and ``patient_id``.
    labels_wide : DataFrame
        Index session_id, one 0/1 column per task, NA = not labelled.
    task_info : DataFrame
        Columns task, category, held_out (and optionally concept).
    train_ids, test_ids : sequences of str
        Patient-level split (checked: a shared patient raises ``InvalidCohort``).
    n_boot : int
        Bootstrap resamples (patients resampled) for the 95% interval; 0 skips intervals.
    seed : int
        Seeds the inner CV and the bootstrap; the same seed gives paired comparisons across
        representations.
    external : dict of str -> sequence of str, optional
        Further test sets (e.g. ``{"B": site_b_ids}``), scored with the same fitted probes.
    config : BatteryConfig, optional
    progress : bool
        Show a progress bar over tasks.
    desc : str
        Progress-bar label.

    Returns
    -------
    DataFrame
        One row per (task, test set): ``RESULT_COLUMNS``. Tasks with too few positives are kept
        with ``status="skipped"`` and the reason, never silently dropped.
    """
    cfg = config or BatteryConfig()
    for col in ("task", "category", "held_out"):
        if col not in task_info.columns:
            raise InvalidCohort(f"task_info lacks column {col!r}. Fix: use Cohort.task_info().")
    test_sets = {"test": list(map(str, test_ids))}
    for name, ids in (external or {}).items():
        test_sets[str(name)] = list(map(str, ids))
    train_ids = list(map(str, train_ids))
    for ids in test_sets.values():
        check_no_leakage(sessions_df, train_ids, ids)
    labels_wide = labels_wide.copy()
    labels_wide.index = labels_wide.index.astype(str)
    patient = pd.Series(sessions_df["patient_id"].astype(str).to_numpy(),
                        index=sessions_df["session_id"].astype(str))
    Xtr_all = feature_matrix(X, sessions_df, train_ids)
    Xte_all = {k: feature_matrix(X, sessions_df, v) for k, v in test_sets.items()}
    g_tr = patient.reindex(train_ids).to_numpy()
    rows = []
    tasks = task_info.drop_duplicates("task").reset_index(drop=True)
    for i, info in enumerate(tqdm(tasks.itertuples(index=False), total=len(tasks), desc=desc,
                                  disable=not progress, leave=False)):
        base = {"task": info.task, "category": info.category, "held_out": bool(info.held_out),
                "concept": getattr(info, "concept", None)}
        if info.task not in labels_wide.columns:
            rows += [_skip(base, k, "no labels for this task") for k in test_sets]
            continue
        y = _labels(labels_wide, info.task, train_ids)
        keep = np.isfinite(y)
        n_pos, n_neg = int((y[keep] == 1).sum()), int((y[keep] == 0).sum())
        base.update(n_train=int(keep.sum()), n_pos_train=n_pos)
        if min(n_pos, n_neg) < cfg.min_pos_train:
            why = (f"train has {n_pos} positive / {n_neg} negative sessions "
                   f"(< {cfg.min_pos_train})")
            rows += [_skip(base, k, why) for k in test_sets]
            continue
        probe = fit_probe(Xtr_all[keep], y[keep], g_tr[keep], cfg.probe, seed=seed + i)
        base.update(C=probe.C, cv_auroc=probe.cv_auroc)
        for k, ids in test_sets.items():
            yt = _labels(labels_wide, info.task, ids)
            kt = np.isfinite(yt)
            tp, tn = int((yt[kt] == 1).sum()), int((yt[kt] == 0).sum())
            row = {**base, "test_set": k, "n_test": int(kt.sum()), "n_pos_test": tp}
            if min(tp, tn) < cfg.min_pos_test:
                rows.append({**row, "status": "skipped", "reason": f"test set {k} has {tp} "
                             f"positive / {tn} negative sessions (< {cfg.min_pos_test})"})
                continue
            s = probe.score(Xte_all[k][kt])
            lo, hi = bootstrap_auroc(yt[kt], s, n_boot=n_boot, seed=seed + i,
                                     groups=patient.reindex(np.asarray(ids)[kt]).to_numpy())
            rows.append({**row, "status": "ok", "reason": "", "auroc": auroc(yt[kt], s),
                         "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows)
    for col in RESULT_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    return out[RESULT_COLUMNS]


@dataclass
class Summary:
    """Battery summary over representations for one test set.

    Attributes
    ----------
    table : DataFrame
        Index representation; columns n_tasks, one mean AUROC per category, ``overall`` (mean over
        tasks), computed on the tasks every representation was scored on.
    beats : DataFrame
        ``beats.loc[a, b]`` = number of those tasks on which ``a``'s AUROC exceeds ``b``'s.
    n_tasks : int
        Number of common tasks.
    wide : DataFrame
        Index task, one AUROC column per representation (common tasks only).
    category : Series
        Index task, the task's category.
    """

    table: pd.DataFrame
    beats: pd.DataFrame
    n_tasks: int
    wide: pd.DataFrame
    category: pd.Series = field(default_factory=lambda: pd.Series(dtype=str))


def summarize(results_by_representation: dict, test_set: str = "test") -> Summary:
    """Per-category and overall mean AUROC, and pairwise "beats" counts.

    Parameters
    ----------
    results_by_representation : dict of str -> DataFrame
        Output of :func:`probe_tasks` for each representation (same tasks and splits).
    test_set : str
        Which test set to summarize ("test" = held-out patients of the training site).

    Returns
    -------
    Summary
    """
    names = list(results_by_representation)
    if not names:
        raise ValueError("summarize: no representations given.")
    ok = {}
    for name, df in results_by_representation.items():
        d = df[(df["test_set"] == test_set) & (df["status"] == "ok")]
        ok[name] = d.set_index("task")
    common = sorted(set.intersection(*(set(d.index) for d in ok.values())))
    wide = pd.DataFrame({n: ok[n].loc[common, "auroc"].astype(float) for n in names}, index=common)
    wide.index.name = "task"
    first = ok[names[0]].loc[common] if common else pd.DataFrame(columns=["category"])
    cats = [c for c in CATEGORIES if c in set(first["category"])]
    cats += sorted(set(first["category"]) - set(cats))
    table = pd.DataFrame(index=pd.Index(names, name="representation"))
    table["n_tasks"] = len(common)
    for c in cats:
        sel = first.index[first["category"] == c]
        table[c] = [wide.loc[sel, n].mean() for n in names]
    table["overall"] = [wide[n].mean() if common else np.nan for n in names]
    beats = pd.DataFrame(0, index=pd.Index(names, name="row beats column"), columns=names)
    for a in names:
        for b in names:
            if a != b:
                beats.loc[a, b] = int((wide[a] > wide[b]).sum())
    return Summary(table=table, beats=beats, n_tasks=len(common), wide=wide,
                   category=first["category"].reindex(common) if common else
                   pd.Series(dtype=str))


def results_long(results_by_representation: dict) -> pd.DataFrame:
    """Concatenate per-representation results with a leading ``representation`` column."""
    frames = [df.assign(representation=name) for name, df in results_by_representation.items()]
    out = pd.concat(frames, ignore_index=True)
    return out[["representation"] + [c for c in out.columns if c != "representation"]]
