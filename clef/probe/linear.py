"""Linear probes: L2 logistic regression with balanced classes, C chosen by patient-grouped CV."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import ThreadpoolController

from clef.metrics import auroc


@dataclass
class ProbeConfig:
    """Settings of one linear probe."""

    Cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried
    inner_folds: int = 3  # patient-grouped, stratified inner CV folds for choosing C
    default_C: float = 1.0  # used when there are too few positive patients for an inner CV
    max_iter: int = 2000  # lbfgs iterations; standardized features converge well before this
    standardize: bool = True  # z-score features with the training mean/std


@dataclass
class LinearProbe:
    """A fitted probe: ``score(X)`` gives the decision value (higher = more likely positive)."""

    model: LogisticRegression
    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)
    C: float
    cv_auroc: float  # mean inner-CV AUROC at the chosen C (NaN when CV was impossible)

    def score(self, X) -> np.ndarray:
        """Decision values, shape (n,)."""
        Z = (np.asarray(X, dtype=np.float64) - self.mean) / self.scale
        return self.model.decision_function(Z)


def _standardizer(X: np.ndarray, on: bool) -> tuple[np.ndarray, np.ndarray]:
    if not on:
        return np.zeros(X.shape[1]), np.ones(X.shape[1])
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-12] = 1.0  # constant features stay zero instead of dividing by 0
    return mean, scale


_CONTROLLER: list = []


def _blas_controller() -> ThreadpoolController:
    """One ThreadpoolController per process (creating one scans the loaded libraries, ~10 ms)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _fit(X, y, C, cfg: ProbeConfig, warm: LogisticRegression | None = None) -> LogisticRegression:
    """Balanced L2 logistic regression; ``warm`` (a fit at another C) gives the starting point."""
    if warm is not None:
        clf = warm
        clf.set_params(C=C, warm_start=True)
    else:
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=cfg.max_iter)
    # One BLAS thread: these problems are small, and threaded BLAS inside lbfgs is ~5-10x slower
    # (thread start-up and contention), worst on a shared machine.
    with warnings.catch_warnings(), _blas_controller().limit(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def fit_probe(X, y, groups, config: ProbeConfig | None = None, seed: int = 0) -> LinearProbe:
    """Fit a balanced logistic-regression probe, choosing C by inner patient-grouped CV AUROC.

    Parameters
    ----------
    X : array, shape (n, features)
        Frozen representation of the training sessions.
    y : array of 0/1, shape (n,)
        Labels (no NA).
    groups : array, shape (n,)
        Patient ids: inner folds never split a patient.
    config : ProbeConfig, optional
    seed : int
        Seed of the inner fold assignment.

    Returns
    -------
    LinearProbe
    """
    cfg = config or ProbeConfig()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    if X.ndim != 2 or X.shape[0] != y.size or groups.size != y.size:
        raise ValueError(f"fit_probe: X {X.shape}, y {y.shape} and groups {groups.shape} must "
                         "agree: X is (n, features), y and groups are (n,).")
    if not np.isfinite(X).all():
        raise ValueError("fit_probe: X contains NaN or Inf. Fix: check the representation.")
    if np.unique(y).size < 2:
        raise ValueError("fit_probe: the training labels have a single class.")
    k = min(cfg.inner_folds, np.unique(groups[y == 1]).size, np.unique(groups[y == 0]).size)
    best_C, best_cv = cfg.default_C, float("nan")
    if k >= 2 and len(cfg.Cs) > 1:
        folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        scores = np.full((k, len(cfg.Cs)), np.nan)
        for f, (tr, va) in enumerate(folds.split(X, y, groups)):
            if np.unique(y[tr]).size < 2 or np.unique(y[va]).size < 2:
                continue
            mean, scale = _standardizer(X[tr], cfg.standardize)
            Ztr, Zva = (X[tr] - mean) / scale, (X[va] - mean) / scale
            clf = None
            for j in np.argsort(cfg.Cs):  # weakest to strongest fit, each warm-started
                clf = _fit(Ztr, y[tr], cfg.Cs[j], cfg, warm=clf)
                scores[f, j] = auroc(y[va], clf.decision_function(Zva))
        if np.isfinite(scores).any():
            mean_scores = np.nanmean(scores, axis=0)  # (Cs,)
            j = int(np.nanargmax(mean_scores))  # first (smallest) C among ties: more regularized
            best_C, best_cv = float(cfg.Cs[j]), float(mean_scores[j])
    elif len(cfg.Cs) == 1:
        best_C = float(cfg.Cs[0])
    mean, scale = _standardizer(X, cfg.standardize)
    model = _fit((X - mean) / scale, y, best_C, cfg)
    return LinearProbe(model=model, mean=mean, scale=scale, C=best_C, cv_auroc=best_cv)
