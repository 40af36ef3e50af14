"""Findings-level alignment: multi-positive loss, a text tower that keeps the backbone's geometry,
statement targets, and the zero-shot query path (planted concepts, negated queries)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from clef.errors import InvalidQuery
from clef.model.config import TextConfig
from clef.model.losses import ClipLoss, MultiPositiveClipLoss, similarity_keep_loss
from clef.model.text import HashingBackbone, TextTower
from clef.probe.semantics import query_set_eval, score_query, text_side_eval
from clef.train.targets import TextTargets


def test_multi_positive_loss_matches_hand_computed_value():
    a = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)  # 2 sessions
    b = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=-1)  # 3 texts
    pos = torch.tensor([[True, True, False], [False, False, True]])
    scale = torch.tensor(2.0)
    got = float(MultiPositiveClipLoss()(a, b, scale, pos))
    c = 1 / math.sqrt(2)
    logits = [[2.0, 2 * c, 0.0], [0.0, 2 * c, 2.0]]

    def lse(xs):
        return math.log(sum(math.exp(x) for x in xs))
    # sessions -> texts: session 0 has two positives (weight 1/2 each), session 1 one
    l0 = -0.5 * ((logits[0][0] - lse(logits[0])) + (logits[0][1] - lse(logits[0])))
    l1 = -(logits[1][2] - lse(logits[1]))
    col = [[logits[0][j], logits[1][j]] for j in range(3)]  # texts -> sessions
    t = [-(col[0][0] - lse(col[0])), -(col[1][0] - lse(col[1])), -(col[2][1] - lse(col[2]))]
    want = 0.5 * ((l0 + l1) / 2 + sum(t) / 3)
    assert abs(got - want) < 1e-5


def test_multi_positive_equals_clip_with_one_positive_and_ignores_orphan_texts():
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(5, 8, generator=g), dim=-1)
    b = F.normalize(torch.randn(5, 8, generator=g), dim=-1)
    scale = torch.tensor(10.0)
    clip = float(ClipLoss()(a, b, scale))
    assert abs(float(MultiPositiveClipLoss()(a, b, scale, torch.eye(5, dtype=torch.bool)))
               - clip) < 1e-5
    # a negated statement (no positive session) changes only the session -> text direction
    extra = F.normalize(torch.randn(1, 8, generator=g), dim=-1)
    pos = torch.cat([torch.eye(5, dtype=torch.bool), torch.zeros(5, 1, dtype=torch.bool)], 1)
    with_neg = float(MultiPositiveClipLoss()(a, torch.cat([b, extra]), scale, pos))
    assert with_neg > clip  # one more competitor for every session


def _corpus():
    words = ["left temporal sharp waves", "right temporal slowing", "sleep spindles",
             "diffuse slowing", "normal posterior dominant rhythm", "burst suppression",
             "generalized periodic discharges", "photic driving", "k complexes", "seizure"]
    rng = np.random.default_rng(0)
    return [" and ".join(rng.choice(words, size=2, replace=False)) for _ in range(300)]


def test_residual_text_tower_starts_as_the_backbone():
    cfg = TextConfig(backbone="hashing", hash_dim=64, adapter="residual", proj_hidden=16)
    tower = TextTower(cfg, embed_dim=32)
    texts = _corpus()
    x = torch.from_numpy(HashingBackbone(64).encode(texts))
    kept = tower.fit_basis(x.numpy())
    assert 0.5 < kept <= 1.0
    with torch.no_grad():
        z = F.normalize(tower(x), dim=-1)
    s_tower, s_backbone = (z @ z.T).numpy(), (x @ x.T).numpy()
    iu = np.triu_indices(len(texts), 1)
    r = np.corrcoef(s_tower[iu], s_backbone[iu])[0, 1]
    assert r > 0.95, r
    assert float(similarity_keep_loss(z, x)) < 0.01
    # a linear tower with random init does not keep the geometry as well
    lin = TextTower(TextConfig(backbone="hashing", hash_dim=64), embed_dim=32)
    with torch.no_grad():
        zl = F.normalize(lin(x), dim=-1)
    assert float(similarity_keep_loss(zl, x)) > float(similarity_keep_loss(z, x))
    # the buffer is saved with the weights (it is part of the state dict)
    assert "basis" in tower.state_dict()


def test_text_targets_positives_and_deterministic_sampling():
    reports = [("FINDINGS: Diffuse slowing is present. No spikes are seen. Normal sleep.\n"
                "IMPRESSION: Abnormal EEG."),
               "FINDINGS: Normal sleep. There is no focal slowing.\nIMPRESSION: Normal EEG.",
               ""]

    def enc(texts):
        return HashingBackbone(16).encode(texts)
    t = TextTargets.from_reports(reports, enc)
    assert len(t.feats) == len(t.texts)
    pool, pos = t.sample([0, 1, 2], k=5, negatives=True, seed=0, stage=1, step=3)
    assert pool.shape[0] == pos.shape[1] and pos.shape[0] == 3
    col = {t.texts.index(s): j for j, s in enumerate(t.texts)}
    assert col  # texts indexed
    ids_pool = [int(np.flatnonzero((t.feats == row).all(1))[0]) for row in pool]
    shared = t.texts.index("Normal sleep.")
    j = ids_pool.index(shared)
    assert pos[0, j] and pos[1, j] and not pos[2, j]  # an identical statement is shared
    neg = [k for k, s in enumerate(t.texts) if s.startswith("No ") or "no focal" in s]
    assert not pos[:, [ids_pool.index(k) for k in neg if k in ids_pool]].any()
    assert not pos[2].any()  # an empty report has no positives
    pool2, pos2 = t.sample([0, 1, 2], k=5, negatives=True, seed=0, stage=1, step=3)
    assert torch.equal(pool, pool2) and torch.equal(pos, pos2)  # resumable: same step, same pool


class _Planted:
    """A toy shared space: a session embedding is the hashed text of its findings."""

    def __init__(self):
        self.bb = HashingBackbone(256)

    def __call__(self, texts):
        return self.bb.encode(list(texts))


def test_planted_concept_ranks_first_and_negated_query_does_not():
    enc = _Planted()
    findings = ["diffuse slowing", "sleep spindles", "burst suppression",
                "lateralized periodic discharges", "photic driving"] * 4
    findings[7] = "lateralized periodic discharges and burst suppression"
    S = enc([f"EEG shows {f}." for f in findings])
    s = score_query(S, "LPDs", enc)
    assert "lateralized periodic discharges" in findings[int(np.argmax(s))]
    neg = score_query(S, "no LPDs", enc)
    assert "lateralized periodic discharges" not in findings[int(np.argmax(neg))]
    labels = pd.DataFrame({"lpds": ["lateralized" in f for f in findings]}).astype(float)
    q = query_set_eval(S, labels, {"lpds": ["LPDs", "periodic lateralized discharges"]}, enc,
                       min_pos=2)
    assert (q["auroc"] > 0.9).all() and len(q) == 2
    ts = text_side_eval([f"EEG shows {f}." for f in findings], labels,
                        {"lpds": ["lateralized periodic discharges"]}, {"raw": enc}, min_pos=2)
    assert float(ts["raw"].iloc[0]) > 0.9


def test_contrast_reference_is_rank_equivalent_to_score_difference():
    enc = _Planted()
    S = enc([f"EEG shows {f}." for f in ["diffuse slowing", "normal EEG", "spindles", "LPDs x"]])
    from clef.text.queries import query_vector
    q = query_vector("diffuse slowing", enc)
    r = query_vector("normal EEG", enc)
    c = query_vector("diffuse slowing", enc, reference="normal EEG")
    assert np.argsort(S @ c).tolist() == np.argsort(S @ q - S @ r).tolist()
    assert abs(np.linalg.norm(c) - 1) < 1e-5
    with pytest.raises(InvalidQuery, match="own reference"):
        query_vector("normal EEG", enc, reference="normal EEG")


def test_freeze_text_locks_the_text_tower_in_stage_2():
    from clef.model import CLEFModel
    from clef.train.config import TrainConfig
    from clef.train.objective import set_trainable
    m = CLEFModel("clef-tiny")
    cfg = TrainConfig(cohort="c", out="o", stage="align", freeze_text=True)
    names = set_trainable(m, "align", cfg)
    assert names and not any(n.startswith("text.") for n in names)
    assert any(n.startswith("ehr.") for n in names)
    cfg.freeze_text = False
    assert any(n.startswith("text.") for n in set_trainable(m, "align", cfg))


def test_eeg_projection_can_be_an_mlp_and_round_trips(tmp_path):
    from clef.model import CLEFModel
    from clef.model.config import ModelConfig
    mc = ModelConfig.load("clef-tiny")
    mc.eeg_proj_hidden = 32
    m = CLEFModel(mc)
    assert isinstance(m.eeg_proj, torch.nn.Sequential)
    z = m.eeg_proj(torch.randn(3, m.eeg.pool_dim))
    assert z.shape == (3, mc.embed_dim)
    m.save_pretrained(tmp_path / "m")
    m2 = CLEFModel.from_pretrained(tmp_path / "m")
    assert m2.config.eeg_proj_hidden == 32
    x = torch.randn(2, m.eeg.pool_dim)
    assert torch.allclose(m.eeg_proj(x), m2.eeg_proj(x))


def test_fit_basis_with_fewer_texts_than_dimensions_is_still_orthonormal():
    cfg = TextConfig(backbone="hashing", hash_dim=64, adapter="residual", proj_hidden=16)
    tower = TextTower(cfg, embed_dim=48)
    x = HashingBackbone(64).encode(_corpus()[:10])  # 10 texts < 48 dimensions
    kept = tower.fit_basis(x)
    b = tower.basis.double()
    assert torch.allclose(b @ b.T, torch.eye(48, dtype=torch.float64), atol=1e-5)
    assert abs(kept - 1.0) < 1e-6  # all of the 10 texts' energy is in the basis
    xt = torch.from_numpy(x)
    with torch.no_grad():
        z = F.normalize(tower(xt), dim=-1)
    assert torch.allclose(z @ z.T, xt @ xt.T, atol=1e-4)  # their geometry is kept exactly


def test_described_targets_add_the_eeg_description_of_affirmed_findings_only():
    from clef.text.linking import descriptor

    report = ("DESCRIPTION OF THE RECORD: There is burst suppression. No sleep spindles are seen.\n"
              "IMPRESSION: Abnormal EEG.")

    def encode(texts):
        return np.zeros((len(texts), 4), np.float32)

    plain = TextTargets.from_reports([report], encode)
    rich = TextTargets.from_reports([report], encode, describe=True)
    aff = [rich.texts[i] for i in rich.affirmed[0]]
    assert descriptor("burst_suppression") in aff
    assert descriptor("sleep_spindles") not in rich.texts  # negated: never a positive
    assert aff[-1] == rich.summaries[0] == plain.summaries[0]  # the summary stays last
    assert len(rich.affirmed[0]) == len(plain.affirmed[0]) + 1
