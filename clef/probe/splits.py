"""Patient-level train/test splits: no patient ever has sessions on both sides."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clef.errors import InvalidCohort


def _require(sessions_df: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in sessions_df.columns]
    if missing:
        raise InvalidCohort(f"sessions table lacks column(s) {missing}; patient-level splits need "
                            "session_id and patient_id. Fix: add them to sessions.parquet.")


def patient_split(sessions_df: pd.DataFrame, test_size: float = 0.3, seed: int = 0,
                  split_column: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split sessions into train and test by patient.

    Parameters
    ----------
    sessions_df : DataFrame
        Needs ``session_id`` and ``patient_id``.
    test_size : float
        Fraction of patients (0 < test_size < 1) sent to test when ``split_column`` is None.
    seed : int
        Seed of the patient shuffle.
    split_column : str, optional
        Use an existing "train"/"test" column (e.g. the cohort's ``split``, which marks the
        sessions the model never saw) instead of a random draw; it must be patient-level.

    Returns
    -------
    train_ids, test_ids : np.ndarray of str
        Session ids, sorted.
    """
    _require(sessions_df, ["session_id", "patient_id"])
    sid = sessions_df["session_id"].astype(str).to_numpy()
    pid = sessions_df["patient_id"].astype(str).to_numpy()
    if split_column is not None:
        _require(sessions_df, [split_column])
        side = sessions_df[split_column].astype(str).str.lower().to_numpy()
        bad = sorted(set(side) - {"train", "test"})
        if bad:
            raise InvalidCohort(f"column {split_column!r} has values {bad}; expected 'train' or "
                                "'test'. Fix: repair the column or use a random patient split.")
        is_test = side == "test"
        check_no_leakage(sessions_df, sid[~is_test], sid[is_test])
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"patient_split: test_size must be in (0, 1), got {test_size}.")
        patients = np.unique(pid)
        if patients.size < 2:
            raise InvalidCohort("patient_split: need sessions from at least 2 patients, got "
                                f"{patients.size}. Fix: use a larger cohort.")
        rng = np.random.default_rng(seed)
        order = rng.permutation(patients)
        n_test = int(np.clip(round(test_size * patients.size), 1, patients.size - 1))
        is_test = np.isin(pid, order[:n_test])
    return np.sort(sid[~is_test]), np.sort(sid[is_test])


def site_split(sessions_df: pd.DataFrame, train_site: str = "A", test_size: float = 0.3,
               seed: int = 0, split_column: str | None = None) -> dict[str, np.ndarray]:
    """Train on one site's patients; test on its held-out patients and on every other site.

    Parameters
    ----------
    sessions_df : DataFrame
        Needs ``session_id``, ``patient_id`` and ``site``.
    train_site : str
        The development site.
    test_size, seed, split_column
        As in :func:`patient_split`, applied within ``train_site``. With ``split_column``, other
        sites contribute only their test-side sessions (sessions the model never saw).

    Returns
    -------
    dict
        ``{"train": ids, "test": ids (train_site held out), "<site>": ids for each other site}``.
        Sessions of patients in ``train`` are excluded from every test set.
    """
    _require(sessions_df, ["session_id", "patient_id", "site"])
    site = sessions_df["site"].astype(str)
    if not (site == str(train_site)).any():
        raise InvalidCohort(f"no sessions from site {train_site!r}; sites present: "
                            f"{sorted(site.unique())}. Fix: pass --train-site with one of them.")
    home = sessions_df[site == str(train_site)]
    train, test = patient_split(home, test_size=test_size, seed=seed, split_column=split_column)
    out = {"train": train, "test": test}
    train_patients = set(home.loc[home["session_id"].astype(str).isin(train), "patient_id"]
                         .astype(str))
    for other in sorted(set(site.unique()) - {str(train_site)}):
        rows = sessions_df[(site == other) & ~sessions_df["patient_id"].astype(str)
                           .isin(train_patients)]
        if split_column is not None and split_column in rows.columns:
            rows = rows[rows[split_column].astype(str).str.lower() == "test"]
        out[other] = np.sort(rows["session_id"].astype(str).to_numpy())
    return out


def check_no_leakage(sessions_df: pd.DataFrame, train_ids, test_ids) -> None:
    """Raise ``InvalidCohort`` when a patient has sessions on both sides of a split.

    Parameters
    ----------
    sessions_df : DataFrame
        Needs ``session_id`` and ``patient_id``.
    train_ids, test_ids : sequences of str
        Session ids of the two sides.
    """
    _require(sessions_df, ["session_id", "patient_id"])
    pid = dict(zip(sessions_df["session_id"].astype(str), sessions_df["patient_id"].astype(str)))
    both = set(map(str, train_ids)) & set(map(str, test_ids))
    if both:
        raise InvalidCohort(f"{len(both)} session(s) are in both train and test, e.g. "
                            f"{sorted(both)[:3]}. Fix: split by patient.")
    shared = {pid[s] for s in map(str, train_ids)} & {pid[s] for s in map(str, test_ids)}
    if shared:
        raise InvalidCohort(f"{len(shared)} patient(s) have sessions in both train and test, e.g. "
                            f"{sorted(shared)[:3]}. Fix: split by patient (clef.probe.patient_split).")
