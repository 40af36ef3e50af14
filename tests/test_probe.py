"""Probe battery: patient-level splits, AUROC vs scikit-learn, bootstrap, planted signal vs noise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from clef.errors import InvalidCohort
from clef.probe import (
    auroc,
    bootstrap_auroc,
    check_no_leakage,
    fit_probe,
    patient_split,
    probe_tasks,
    site_split,
    summarize,
)


def _sessions(n_patients=60, seed=0, sites=("A", "B")):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        site = sites[p % len(sites)]
        for k in range(rng.integers(1, 4)):  # 1-3 sessions per patient
            rows.append({"session_id": f"s{p:03d}_{k}", "patient_id": f"p{p:03d}", "site": site,
                         "split": "test" if p % 5 == 0 else "train"})
    return pd.DataFrame(rows)


# ---- splits ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 7])
def test_patient_split_has_no_leakage(seed):
    df = _sessions(seed=seed)
    tr, te = patient_split(df, test_size=0.3, seed=seed)
    assert len(tr) + len(te) == len(df) and not set(tr) & set(te)
    pid = df.set_index("session_id")["patient_id"]
    assert not set(pid[tr]) & set(pid[te])
    n_test_patients = pid[te].nunique()
    assert n_test_patients == round(0.3 * df["patient_id"].nunique())
    check_no_leakage(df, tr, te)  # does not raise
    _tr2, te2 = patient_split(df, test_size=0.3, seed=seed)
    assert list(te2) == list(te)  # deterministic


def test_leakage_is_detected():
    df = _sessions()
    multi = df.groupby("patient_id").filter(lambda g: len(g) > 1)
    a, b = multi["session_id"].iloc[0], multi["session_id"].iloc[1]
    with pytest.raises(InvalidCohort, match="patient"):
        check_no_leakage(df, [a], [b])
    with pytest.raises(InvalidCohort, match="both"):
        check_no_leakage(df, [a], [a])


def test_split_column_and_site_split():
    df = _sessions()
    _tr, te = patient_split(df, split_column="split")
    assert set(te) == set(df.loc[df["split"] == "test", "session_id"])
    bad = df.copy()
    bad.loc[0, "split"] = "test" if bad.loc[0, "split"] == "train" else "train"
    same_patient = bad["patient_id"] == bad.loc[0, "patient_id"]
    if same_patient.sum() > 1:
        with pytest.raises(InvalidCohort):
            patient_split(bad, split_column="split")
    sets = site_split(df, train_site="A", test_size=0.3, seed=0)
    site = df.set_index("session_id")["site"]
    assert set(site[sets["train"]]) == {"A"} and set(site[sets["test"]]) == {"A"}
    assert set(site[sets["B"]]) == {"B"} and len(sets["B"]) == (df["site"] == "B").sum()
    with pytest.raises(InvalidCohort, match="site"):
        site_split(df, train_site="C")


# ---- metrics --------------------------------------------------------------------------------

def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    for n in (7, 50, 301):
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, 5, n).astype(float)  # heavy ties
        assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        s = rng.standard_normal(n)
        assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auroc([0, 1, 1], [0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert np.isnan(auroc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert auroc([0, np.nan, 1], [0.1, 5.0, 0.2]) == 1.0  # NA label ignored
    with pytest.raises(ValueError):
        auroc([0, 1], [0.1, np.nan])


def test_bootstrap_contains_estimate_and_narrows():
    rng = np.random.default_rng(0)
    widths = []
    for n in (60, 600, 6000):
        y = rng.integers(0, 2, n)
        s = y * 0.8 + rng.standard_normal(n)
        est = auroc(y, s)
        lo, hi = bootstrap_auroc(y, s, n_boot=300, seed=1)
        assert lo <= est <= hi
        widths.append(hi - lo)
        glo, ghi = bootstrap_auroc(y, s, n_boot=100, seed=1, groups=np.arange(n) // 3)
        assert glo <= est <= ghi
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] < 0.05
    assert bootstrap_auroc(y, s, n_boot=50, seed=4) == bootstrap_auroc(y, s, n_boot=50, seed=4)


# ---- probes and battery ---------------------------------------------------------------------

def _planted(df, d=16, seed=0):
    """Task 'signal' is linearly separable in X; task 'noise' is independent of X."""
    rng = np.random.default_rng(seed)
    n = len(df)
    X = rng.standard_normal((n, d))
    y_sig = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    y_noise = rng.integers(0, 2, n).astype(float)
    y_rare = np.zeros(n)
    y_rare[:3] = 1
    labels = pd.DataFrame({"signal": y_sig, "noise": y_noise, "rare": y_rare},
                          index=df["session_id"].to_numpy())
    labels.loc[labels.index[5], "signal"] = np.nan  # NA allowed
    info = pd.DataFrame({"task": ["signal", "noise", "rare", "absent"],
                         "category": ["finding", "phenotype", "medication", "demographic"],
                         "held_out": [False, False, False, True],
                         "concept": ["x", None, None, None]})
    return X, labels, info


def test_probe_planted_separable_vs_noise():
    df = _sessions(n_patients=240, seed=2)
    X, labels, info = _planted(df)
    tr, te = patient_split(df, test_size=0.3, seed=0)
    res = probe_tasks(X, df, labels, info, tr, te, n_boot=50, seed=0)
    r = res.set_index("task")
    assert r.loc["signal", "status"] == "ok" and r.loc["signal", "auroc"] > 0.97
    assert r.loc["signal", "ci_low"] <= r.loc["signal", "auroc"] <= r.loc["signal", "ci_high"]
    assert 0.38 < r.loc["noise", "auroc"] < 0.62
    assert r.loc["rare", "status"] == "skipped" and "positive" in r.loc["rare", "reason"]
    assert r.loc["absent", "status"] == "skipped"
    assert r.loc["signal", "n_test"] + r.loc["signal", "n_train"] == len(df) - 1
    with pytest.raises(InvalidCohort):
        probe_tasks(X, df, labels, info, tr, np.concatenate([te, tr[:1]]), n_boot=0)


def test_external_test_set_and_summary():
    df = _sessions(n_patients=300, seed=5)
    X, labels, info = _planted(df, seed=1)
    sets = site_split(df, train_site="A", test_size=0.3, seed=0)
    res = probe_tasks(X, df, labels, info, sets["train"], sets["test"], n_boot=20,
                      external={"B": sets["B"]})
    assert set(res["test_set"]) == {"test", "B"}
    b = res[(res.test_set == "B") & (res.task == "signal")].iloc[0]
    assert b["auroc"] > 0.95 and b["n_test"] == len(sets["B"]) - int(labels.loc[sets["B"],
                                                                              "signal"].isna().sum())
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(X.shape)
    res_noise = probe_tasks(noise, df, labels, info, sets["train"], sets["test"], n_boot=0)
    s = summarize({"planted": res, "noise": res_noise})
    assert s.n_tasks == 2 and list(s.table.index) == ["planted", "noise"]
    assert s.table.loc["planted", "finding"] > 0.95 > s.table.loc["noise", "finding"]
    assert s.table.loc["planted", "overall"] == pytest.approx(s.wide["planted"].mean())
    assert s.beats.loc["planted", "noise"] >= 1 and s.beats.loc["noise", "noise"] == 0
    assert s.beats.loc["planted", "noise"] + s.beats.loc["noise", "planted"] <= s.n_tasks
    sb = summarize({"planted": res}, test_set="B")
    assert sb.n_tasks >= 1


def test_fit_probe_chooses_C_and_validates():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = (X[:, 0] > 0).astype(int)
    groups = np.arange(200) // 2
    p = fit_probe(X, y, groups)
    assert p.C in (0.001, 0.01, 0.1, 1.0, 10.0) and p.cv_auroc > 0.95
    assert auroc(y, p.score(X)) > 0.97
    with pytest.raises(ValueError, match="single class"):
        fit_probe(X, np.zeros(200), groups)
    with pytest.raises(ValueError, match="NaN"):
        fit_probe(np.full((200, 5), np.nan), y, groups)


def test_targets_report_the_oracle_ceiling_without_moving_thresholds():
    from clef.probe.battery import summarize
    from clef.probe.report import evaluate_targets

    def res(aucs):
        return pd.DataFrame({"task": [f"t{i}" for i in range(len(aucs))], "category": "finding",
                             "test_set": "test", "status": "ok", "auroc": aucs})

    results = {"clef": res([0.9, 0.8, 0.7, 0.6]), "recon": res([0.85, 0.75, 0.72, 0.55]),
               "short-window": res([0.82, 0.72, 0.75, 0.5]), "oracle": res([1.0, 0.9, 0.7, 0.65]),
               "band-power": res([0.9, 0.8, 0.7, 0.62]), "random": res([0.8, 0.7, 0.7, 0.5])}
    t = evaluate_targets(summarize(results), results, None).set_index("target")
    assert "share of tasks where CLEF beats short-window" not in t.index  # retired (issue 15)
    sw = t.loc["CLEF mean AUROC - short-window"]
    assert sw["value"] == pytest.approx(0.0525) and sw["status"] == "missed"
    assert sw["note"] == "oracle - short-window: 0.115"
    bp = t.loc["CLEF mean AUROC - band power"]
    assert bp["value"] == pytest.approx(-0.005) and bp["status"] == "missed"
    assert bp["note"] == "0.750 vs 0.755"
    assert t.loc["CLEF findings mean AUROC - band power", "status"] == "missed"
    rr = t.loc["reconstruction-only mean AUROC - random-initialised"]
    assert rr["value"] == pytest.approx(0.0425) and rr["status"] == "missed"
    assert t.loc["CLEF mean AUROC, all tasks", "status"] == "missed"  # 0.75 < 0.783
    no_oracle = {k: v for k, v in results.items() if k != "oracle"}
    t2 = evaluate_targets(summarize(no_oracle), no_oracle, None).set_index("target")
    assert t2.loc["CLEF mean AUROC - short-window", "note"] == ""
