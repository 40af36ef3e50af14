"""Stage-1 session contrast: disjoint views, the loss by hand, a CLI run that learns, validation."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_model import random_tokens, tiny_config
from test_train import _cfg, _log, fake  # noqa: F401  (fixture)

from clef.model import CLEFModel
from clef.model.encoder import select_visible
from clef.train import TrainConfig, pretrain
from clef.train.data import Batch
from clef.train.objective import PretrainObjective

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_stage1_term(fake_cohort, out: Path, weight: str, logged: str, card_says: str):
    """A 12-step stage-1 run with the term ``weight`` at 1.0: the term (logged as ``logged``)
    falls and the model card names it. -> (run kwargs, result, train log)."""
    kw = {"stage": "recon", "steps": 12, weight: 1.0, "ckpt_every": 4}
    result = pretrain(_cfg(fake_cohort, out, **kw))
    log = _log(out / "train_log.jsonl")
    term = [x[logged] for x in log]
    assert len(term) == 12 and np.mean(term[-3:]) < np.mean(term[:3])
    assert card_says in (out / "MODEL_CARD.md").read_text()
    return kw, result, log


def rerun_resumed_after(cfg: TrainConfig, step: int) -> tuple[dict, list[dict]]:
    """Run ``cfg`` to the end, delete its checkpoints after ``step`` and its saved model, then
    resume it: -> (the resumed run's result, its train log)."""
    pretrain(cfg)
    out = Path(cfg.out)
    for p in (out / "checkpoints").glob("ckpt-*"):
        if int(p.name.split("-")[1]) > step:
            shutil.rmtree(p)
    (out / "model.safetensors").unlink()
    return pretrain(cfg, resume=True), _log(out / "train_log.jsonl")


def _batch(tok, noise) -> Batch:
    return Batch(index=np.arange(tok.mask.shape[0]), tokens=tok, text=None, text_group=None,
                 ehr=None, ehr_group=None, noise=noise)


def test_the_two_views_share_no_token():
    tok = random_tokens([5, 3, 4], tiny_config(), 2)
    noise = torch.rand(tok.mask.shape, generator=torch.Generator().manual_seed(0))
    for ratio in (0.5, 0.6, 0.75):
        _, idx_a, keep_a, _ = select_visible(tok, noise, ratio)
        _, idx_b, keep_b, _ = select_visible(tok, 1.0 - noise, ratio)
        for i in range(tok.mask.shape[0]):
            a = set(idx_a[i][keep_a[i]].tolist())
            b = set(idx_b[i][keep_b[i]].tolist())
            assert a and b and not a & b, (ratio, i)


def test_session_contrast_equals_a_hand_computed_infonce():
    torch.manual_seed(0)
    model = CLEFModel(tiny_config()).eval()
    cfg = TrainConfig(cohort="c", out="o", session_contrast_weight=0.5, contrast_temperature=0.2)
    obj = PretrainObjective(model, cfg)
    tok = random_tokens([4, 3, 5, 2], model.config, 3)
    noise = torch.rand(tok.mask.shape, generator=torch.Generator().manual_seed(1))
    batch = _batch(tok, noise)
    with torch.no_grad():
        recon, pooled = obj.recon_loss(batch, return_pooled=True)
        got = obj.session_contrast(batch, batch.noise, pooled)
        logs: dict = {}
        total = obj.stage1_loss(batch, logs)
        # by hand: mean states of the kept tokens of each view
        means = []
        for nz in (noise, 1.0 - noise):
            vis, _, keep, _ = select_visible(tok, nz, cfg.mask_ratio)
            x = model.eeg.embed(vis.values, vis.region_idx, vis.band_idx, vis.codes)
            st = model.eeg.contextualize(x, vis, model.eeg.groups(vis))
            k = keep[..., None].float()
            means.append(F.normalize((st * k).sum(1) / k.sum(1), dim=-1))
        logits = means[0] @ means[1].T / 0.2  # (4, 4)
        target = torch.arange(4)
        want = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    assert total.item() == pytest.approx(recon.item() + 0.5 * want.item(), rel=1e-5)
    assert logs["contrast"].item() == pytest.approx(want.item(), rel=1e-5)


def test_zero_weight_is_plain_reconstruction():
    torch.manual_seed(0)
    model = CLEFModel(tiny_config()).eval()
    tok = random_tokens([4, 3], model.config, 4)
    noise = torch.rand(tok.mask.shape, generator=torch.Generator().manual_seed(2))
    obj = PretrainObjective(model, TrainConfig(cohort="c", out="o"))
    logs: dict = {}
    with torch.no_grad():
        loss = obj(_batch(tok, noise), "recon")[0]
        assert torch.equal(loss, obj.recon_loss(_batch(tok, noise)))
        obj.stage1_loss(_batch(tok, noise), logs)
    assert set(logs) == {"recon"}


def test_stage1_with_session_contrast_learns_and_resumes_exactly(fake, tmp_path):  # noqa: F811
    kw, a, log = run_stage1_term(fake, tmp_path / "a", "session_contrast_weight", "contrast",
                                 "session contrast between two disjoint masked views (weight 1.0")
    # resume after step 4 gives the same weights and losses as the uninterrupted run
    b, log_b = rerun_resumed_after(_cfg(fake, tmp_path / "b", **kw), 4)
    assert a["steps"] == b["steps"] == [12]
    assert [x["loss"] for x in log] == [x["loss"] for x in log_b]
    meta = json.loads((tmp_path / "a" / "config.json").read_text())
    assert meta["eeg_output"] == "mean"  # a stage-1 model: the probe's reconstruction-only row


def test_session_contrast_validation():
    with pytest.raises(ValueError, match="session_contrast_weight"):
        TrainConfig(cohort="c", out="o", session_contrast_weight=-1).validate()
    with pytest.raises(ValueError, match="contrast_temperature"):
        TrainConfig(cohort="c", out="o", contrast_temperature=0).validate()
    with pytest.raises(ValueError, match="share no token"):
        TrainConfig(cohort="c", out="o", session_contrast_weight=1, mask_ratio=0.3).validate()
