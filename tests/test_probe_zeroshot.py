"""Zero-shot concept scoring with a fake (deterministic) text encoder."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clef.errors import InvalidQuery
from clef.probe.zeroshot import (
    GROUP_HELD_OUT,
    GROUP_NAMED,
    concept_embeddings,
    concept_prompts,
    rank_concepts,
    summarize_zeroshot,
    zeroshot_eval,
    zeroshot_scores,
)

SYN = {"lpds": ["lateralized periodic discharges", "pleds"],
       "spindles": ["sleep spindles", "spindle activity"],
       "slowing": ["generalized slowing", "diffuse slowing"],
       "beta": ["excess beta activity"]}
D = 32


class FakeEncoder:
    """Each concept owns a random direction; a prompt embeds as its concept's direction + noise,
    so only the concept (not the template wording) matters."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.dirs = {c: rng.standard_normal(D) for c in SYN}
        self.rng = np.random.default_rng(seed + 1)
        self.calls = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        out = []
        for t in texts:
            owner = [c for c, ps in SYN.items() if any(p in t for p in ps)]
            assert len(owner) == 1, t
            out.append(self.dirs[owner[0]] + 0.3 * self.rng.standard_normal(D))
        return np.stack(out)


def test_prompts_from_synonyms_and_ontology():
    ps = concept_prompts("lpds", SYN)
    assert len(ps) == 2 * 3 and "pleds" in ps and "EEG shows pleds." in ps  # neutral templates
    with pytest.raises(InvalidQuery):
        concept_prompts("nothing", SYN)
    onto = concept_prompts("lpds")  # the generator's ontology
    assert any("periodic" in p for p in onto)
    with pytest.raises(InvalidQuery, match="ontology"):
        concept_prompts("not_a_concept")


def test_planted_concept_ranks_first():
    enc = FakeEncoder()
    E = concept_embeddings(enc, list(SYN), SYN)
    assert E.shape == (4, D)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0)
    for planted in SYN:
        emb = enc.dirs[planted] + 0.2 * np.random.default_rng(3).standard_normal(D)
        ranking = rank_concepts(emb, FakeEncoder(), list(SYN), SYN)
        assert ranking.index[0] == planted
        assert ranking.iloc[0] > ranking.iloc[1]


def _cohort(n=160, seed=0):
    rng = np.random.default_rng(seed)
    enc = FakeEncoder()
    sessions = pd.DataFrame({"session_id": [f"s{i}" for i in range(n)],
                             "patient_id": [f"p{i // 2}" for i in range(n)],
                             "split": ["train" if i < n // 2 else "test" for i in range(n)]})
    y = {c: rng.integers(0, 2, n) for c in SYN}
    emb = 0.25 * rng.standard_normal((n, D))
    emb += y["lpds"][:, None] * enc.dirs["lpds"] / np.linalg.norm(enc.dirs["lpds"])
    emb += y["spindles"][:, None] * enc.dirs["spindles"] / np.linalg.norm(enc.dirs["spindles"])
    # 'slowing' and 'beta' labels are unrelated to the embedding
    sessions["report"] = ["Pleds were seen." if (i < n // 2 and y["lpds"][i]) else "Normal."
                          for i in range(n)]
    labels = pd.DataFrame({c: v for c, v in y.items()}, index=sessions["session_id"])
    info = pd.DataFrame({"task": list(SYN), "category": "finding",
                         "held_out": [False, True, False, True],
                         "concept": [v[0] for v in SYN.values()]})  # free text, as in synth
    info.loc[len(info)] = ["age_elderly", "demographic", False, None]
    return sessions, labels, info, emb, enc


def test_zeroshot_eval_groups_and_auroc():
    sessions, labels, info, emb, enc = _cohort()
    test = sessions.loc[sessions["split"] == "test", "session_id"]
    zs = zeroshot_eval(emb, sessions, labels, info, enc, ids=test, n_boot=50, synonyms=SYN)
    r = zs.set_index("task")
    assert set(r.index) == set(SYN)  # the demographic task has no concept and is not scored
    assert r.loc["lpds", "auroc"] > 0.9 and r.loc["spindles", "auroc"] > 0.9
    assert abs(r.loc["slowing", "auroc"] - 0.5) < 0.2
    assert r.loc["lpds", "group"] == GROUP_NAMED and r.loc["spindles", "group"] == GROUP_HELD_OUT
    assert r.loc["lpds", "n"] == len(test)
    assert r.loc["lpds", "prompts"] == "lateralized periodic discharges; pleds"
    assert r.loc["lpds", "n_train_reports_naming"] > 0
    assert r.loc["spindles", "n_train_reports_naming"] == 0
    assert r.loc["lpds", "ci_low"] <= r.loc["lpds", "auroc"] <= r.loc["lpds", "ci_high"]
    s = summarize_zeroshot(zs)
    assert list(s.index) == [GROUP_NAMED, GROUP_HELD_OUT]
    assert s.loc[GROUP_NAMED, "mean_auroc"] == pytest.approx(r.loc[["lpds", "slowing"],
                                                                   "auroc"].mean())
    scores = zeroshot_scores(emb, enc, list(SYN), SYN, index=sessions["session_id"])
    assert scores.shape == (len(sessions), 4) and np.abs(scores.to_numpy()).max() <= 1 + 1e-9
    with pytest.raises(ValueError, match="dimension"):
        zeroshot_scores(emb[:, :5], enc, list(SYN), SYN)


def test_task_phrases_from_ontology_and_free_text():
    from clef.probe.zeroshot import task_phrases

    p = task_phrases("lpds", "lateralized periodic discharges")  # ontology concept
    assert "pleds" in p and "lateralized periodic discharges" in p
    assert task_phrases("any_epileptiform", "epileptiform discharges") == [
        "epileptiform discharges"]  # aggregate task: its free-text concept
    with pytest.raises(InvalidQuery):
        task_phrases("nothing_here", None)


def test_named_in_counts_reports_and_handles_none():
    """Training-report naming count: whole-word, case-insensitive, 0 (an int) when no reports."""
    import pandas as pd

    from clef.probe.zeroshot import _named_in

    reports = pd.Series(["Rare LEFT temporal sharp waves.", None, "no sharp-waves-like"])
    assert _named_in(reports, ["left temporal sharp waves"]) == 1
    empty = _named_in(pd.Series([], dtype=object), ["firda"])
    assert empty == 0 and isinstance(empty, int)
