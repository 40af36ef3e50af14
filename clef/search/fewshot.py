"""Few-shot concepts: a handful of sessions marked positive (and negative) -> a logistic probe on
the session embeddings -> a ranking of the whole cohort, a cross-validated AUROC, and a named
concept saved as JSON in the user's folder (``$CLEF_CONCEPTS_DIR``, else ``~/.clef/concepts``),
reusable in search and on the map."""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from clef.errors import InvalidConcept

MIN_EXAMPLES = 3  # per class, after sampling negatives
RANDOM_NEGATIVES_PER_POSITIVE = 5
CONCEPTS_ENV = "CLEF_CONCEPTS_DIR"


def concepts_dir(folder: str | os.PathLike | None = None) -> Path:
    """Where named concepts live: ``folder``, else ``$CLEF_CONCEPTS_DIR``, else
    ``~/.clef/concepts`` (never inside the repository)."""
    return Path(folder or os.environ.get(CONCEPTS_ENV) or Path.home() / ".clef" / "concepts")


@dataclass
class FewShotConcept:
    """A linear concept fitted from example sessions.

    Attributes
    ----------
    name : str
    coef : list of float
        (D,) logistic-regression weights on unit session embeddings.
    intercept : float
    positives, negatives : list of str
        Session ids the probe was fitted on (``negatives`` includes sampled ones).
    sampled_negatives : int
        How many negatives were drawn at random from unmarked sessions.
    cv_auroc : float
        Out-of-fold AUROC on the examples (NaN when too few to cross-validate).
    n_folds : int
    model : str
        ``model_sha256`` of the embeddings (a concept only scores embeddings of that model).
    created : str
        ISO time.
    """

    name: str
    coef: list
    intercept: float
    positives: list
    negatives: list
    sampled_negatives: int = 0
    cv_auroc: float = float("nan")
    n_folds: int = 0
    model: str = ""
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"))

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Decision value of every session (higher = more like the positives).

        Parameters
        ----------
        embeddings : np.ndarray
            (n, D).

        Returns
        -------
        np.ndarray
            float32, (n,).
        """
        e = np.asarray(embeddings, dtype=np.float32)
        w = np.asarray(self.coef, dtype=np.float32)
        if e.ndim != 2 or e.shape[1] != w.shape[0]:
            raise InvalidConcept(f"concept {self.name!r} has {w.shape[0]} weights but the "
                                 f"embeddings are {e.shape}. Fix: refit it on this model's "
                                 "embeddings.")
        return (e @ w + np.float32(self.intercept)).astype(np.float32)


def _probe():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)


def _cv_auroc(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, int]:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(5, (y == 1).sum(), (y == 0).sum()))
    if folds < 2:
        return float("nan"), 0
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        oof[te] = _probe().fit(x[tr], y[tr]).decision_function(x[te])
    return float(roc_auc_score(y, oof)), folds


def fit_concept(embeddings: np.ndarray, session_ids, positives, negatives=(), *, name: str,
                model: str = "", seed: int = 0) -> FewShotConcept:
    """Fit a few-shot concept on marked sessions.

    Parameters
    ----------
    embeddings : np.ndarray
        (n, D) session embeddings in ``session_ids`` order.
    session_ids : sequence of str
    positives : sequence of str
        Sessions that show the concept (at least ``MIN_EXAMPLES``).
    negatives : sequence of str
        Sessions that do not. When fewer than ``MIN_EXAMPLES``, unmarked sessions are drawn at
        random as negatives (``RANDOM_NEGATIVES_PER_POSITIVE`` per positive): most sessions of a
        cohort lack any one concept.
    name : str
    model : str
        The embeddings' ``model_sha256``.
    seed : int

    Returns
    -------
    FewShotConcept
    """
    ids = np.asarray([str(s) for s in session_ids])
    row = {s: i for i, s in enumerate(ids)}
    pos = list(dict.fromkeys(str(s) for s in positives))
    neg = [s for s in dict.fromkeys(str(s) for s in negatives) if s not in set(pos)]
    unknown = [s for s in pos + neg if s not in row]
    if unknown:
        raise InvalidConcept(f"{len(unknown)} marked sessions are not in this cohort (e.g. "
                             f"{unknown[0]!r}). Fix: mark sessions from the current bundle.")
    if len(pos) < MIN_EXAMPLES:
        raise InvalidConcept(f"{len(pos)} positive sessions marked; a concept needs at least "
                             f"{MIN_EXAMPLES}. Fix: mark more sessions that show it.")
    sampled = 0
    if len(neg) < MIN_EXAMPLES:
        rest = np.setdiff1d(np.arange(len(ids)), [row[s] for s in pos + neg])
        n = min(len(rest), RANDOM_NEGATIVES_PER_POSITIVE * len(pos))
        pick = np.random.default_rng(seed).choice(rest, n, replace=False)
        neg, sampled = neg + ids[np.sort(pick)].tolist(), int(n)
    x = np.asarray(embeddings, dtype=np.float32)[[row[s] for s in pos + neg]]
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))].astype(int)
    auc, folds = _cv_auroc(x, y, seed)
    clf = _probe().fit(x, y)
    return FewShotConcept(_clean_name(name), clf.coef_[0].astype(float).tolist(),
                          float(clf.intercept_[0]), pos, neg, sampled, auc, folds, model)


def _clean_name(name: str) -> str:
    n = " ".join(str(name or "").split())
    if not n:
        raise InvalidConcept("the concept has no name. Fix: type a name such as 'my spikes'.")
    return n


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _clean_name(name).lower()).strip("-") or "concept"


def save_concept(concept: FewShotConcept, folder=None) -> Path:
    """Write a concept as ``<folder>/<slug>.json`` (replacing one of the same name).

    Returns
    -------
    Path
    """
    d = concepts_dir(folder)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{_slug(concept.name)}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(concept), indent=1, allow_nan=True))
    os.replace(tmp, path)
    return path


def load_concept(name: str, folder=None) -> FewShotConcept:
    """Read a saved concept by name (``InvalidConcept`` when there is none)."""
    path = concepts_dir(folder) / f"{_slug(name)}.json"
    if not path.is_file():
        raise InvalidConcept(f"no saved concept {name!r} in {path.parent}. Fix: pick one of "
                             f"{list_concepts(folder)} or build it from examples first.")
    try:
        return FewShotConcept(**json.loads(path.read_text()))
    except (TypeError, ValueError) as exc:
        raise InvalidConcept(f"{path} is not a saved concept ({exc}). Fix: delete it and save "
                             "the concept again.") from exc


def list_concepts(folder=None) -> list[str]:
    """Names of the saved concepts, sorted."""
    d = concepts_dir(folder)
    if not d.is_dir():
        return []
    names = []
    for p in sorted(d.glob("*.json")):
        try:
            names.append(str(json.loads(p.read_text())["name"]))
        except (ValueError, KeyError, OSError):
            continue  # not one of ours: skipped, never an error in a listing
    return sorted(names)


__all__ = ["CONCEPTS_ENV", "MIN_EXAMPLES", "FewShotConcept", "concepts_dir", "fit_concept",
           "list_concepts", "load_concept", "save_concept"]
