"""Stage-1 session summary: the target by hand, a run that learns and resumes, the recon-only
embedding it gives, stage 2 starting from its encoder, the CLI option, validation."""
from __future__ import annotations

import json

import pytest
import torch
from test_model import random_tokens, tiny_config
from test_session_contrast import _batch, rerun_resumed_after, run_stage1_term
from test_train import _cfg, _log, fake  # noqa: F401  (fixture)

from clef.model import CLEFModel
from clef.model.clef_model import summary_dim
from clef.train import TrainConfig
from clef.train.objective import PretrainObjective, SessionSummaryLoss, set_trainable

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _summary_model():
    mc = tiny_config()
    mc.summary_head = True
    return CLEFModel(mc).eval()


def test_summary_target_is_each_slots_mean_and_std_over_time():
    model = _summary_model()
    tok = random_tokens([4, 2], model.config, 0)
    loss = SessionSummaryLoss(model)
    target, valid = loss.target(tok)
    gs, wpp, bpb = loss.shape
    nb = model.config.encoder.n_bands
    S = model.config.encoder.n_regions * nb
    F_ = gs * bpb
    assert target.shape == valid.shape == (2, summary_dim(model.config)) == (2, S * 2 * F_)
    for b in range(2):
        for s in range(S):
            sel = (tok.mask[b] & (tok.region_idx[b] * nb + tok.band_idx[b] == s))
            rows = tok.values[b][sel].view(-1, gs, wpp, bpb).mean(2).flatten(1)  # (T, F)
            got = target[b].view(S, 2, F_)[s]
            ok = valid[b].view(S, 2, F_)[s]
            if not sel.any():
                assert not ok.any()
                continue
            want_std = rows.var(0, unbiased=False).add(1e-6).sqrt()
            assert torch.allclose(got[0][ok[0]], rows.mean(0)[ok[0]], atol=1e-5)
            assert torch.allclose(got[1][ok[1]], want_std[ok[1]], atol=1e-4)
    # the second session is shorter: a slot it lacks would be invalid, never a zero target
    assert valid.any()


def test_summary_loss_is_the_masked_mse_and_stage1_adds_it():
    torch.manual_seed(0)
    model = _summary_model()
    cfg = TrainConfig(cohort="c", out="o", summary_weight=0.5)
    obj = PretrainObjective(model, cfg)
    tok = random_tokens([4, 3, 5], model.config, 1)
    noise = torch.rand(tok.mask.shape, generator=torch.Generator().manual_seed(1))
    logs: dict = {}
    with torch.no_grad():
        total = obj.stage1_loss(_batch(tok, noise), logs)
        pred = model.reconstruct(tok, noise, cfg.mask_ratio, return_summary=True)[-1]
        target, valid = obj.summary_loss.target(tok)
        want = ((pred - target)[valid] ** 2).mean()
    assert logs["summary"].item() == pytest.approx(want.item(), rel=1e-5)
    assert total.item() == pytest.approx(logs["recon"].item() + 0.5 * want.item(), rel=1e-5)


def test_summary_trains_pool_and_projection_in_stage_1_only():
    model = _summary_model()
    cfg = TrainConfig(cohort="c", out="o", stage="recon", summary_weight=1.0)
    on = set_trainable(model, "recon", cfg)
    assert any(n.startswith("eeg.pool.") for n in on) and any(n.startswith("eeg_proj.") for n in on)
    assert any(n.startswith("summary_head.") for n in on)
    off = set_trainable(model, "recon", TrainConfig(cohort="c", out="o", stage="recon"))
    assert not any(n.startswith(("eeg.pool.", "eeg_proj.", "summary_head.")) for n in off)
    align = set_trainable(model, "align", TrainConfig(cohort="c", out="o", stage="align"))
    assert not any(n.startswith("summary_head.") for n in align)


def test_stage1_with_summary_learns_resumes_and_starts_stage_2(fake, tmp_path):  # noqa: F811
    kw, a, log = run_stage1_term(fake, tmp_path / "a", "summary_weight", "summary",
                                 "region/band mean spectra and their variability (weight 1.0")
    meta = json.loads((tmp_path / "a" / "config.json").read_text())
    assert meta["eeg_output"] == "shared" and meta["summary_head"] is True  # learned embedding
    # resume after step 4 gives the same losses as the uninterrupted run
    b, log_b = rerun_resumed_after(_cfg(fake, tmp_path / "b", **kw), 4)
    assert a["steps"] == b["steps"] == [12]
    assert [x["loss"] for x in log] == [x["loss"] for x in log_b]
    # stage 2 from it starts from its encoder; pool and projection start afresh (measured better)
    from clef.train.checkpoint import init_from_checkpoint

    src = CLEFModel.from_pretrained(tmp_path / "a")
    dst = CLEFModel(src.config.__class__.from_dict({**src.config.to_dict(), "summary_head": False}))
    init_from_checkpoint(dst, tmp_path / "a")
    theirs = src.state_dict()
    for name, t in dst.state_dict().items():
        if name.startswith(("eeg.embed.", "eeg.stack.")):
            assert torch.equal(t, theirs[name]), name
    assert not torch.equal(dst.eeg_proj.weight, src.eeg_proj.weight)
    assert not hasattr(dst, "summary_head")


def test_summary_validation():
    with pytest.raises(ValueError, match="summary_weight"):
        TrainConfig(cohort="c", out="o", summary_weight=-1).validate()
    with pytest.raises(ValueError, match="recon_target='patches'"):
        TrainConfig(cohort="c", out="o", summary_weight=1, recon_target="codes").validate()


def test_cli_summary_weight_reaches_the_run(fake, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from clef.cli import app

    cohort, cfg_path, cache = fake
    out = tmp_path / "cli"
    res = CliRunner().invoke(app, [
        "pretrain", "--cohort", str(cohort), "--config", str(cfg_path), "--stage", "recon",
        "--steps", "2", "--batch-size", "8", "--out", str(out), "--cache-dir", str(cache),
        "--eval-sessions", "0", "--summary-weight", "0.5", "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["summary_head"] is True
    assert "summary" in _log(out / "train_log.jsonl")[-1]
    bad = CliRunner().invoke(app, [
        "pretrain", "--cohort", str(cohort), "--config", str(cfg_path), "--stage", "recon",
        "--steps", "2", "--out", str(tmp_path / "bad"), "--summary-weight", "-1", "--quiet"])
    assert bad.exit_code != 0 and "summary_weight" in bad.output


class _Rows:
    """Stand-in for PretrainData: ``len`` and ``tokens(rows)`` over one padded batch."""

    def __init__(self, tokens):
        self.all = tokens

    def __len__(self):
        return self.all.batch_size

    def tokens(self, rows):
        return self.all[list(rows)]


def test_standard_summary_scale_gives_each_number_unit_spread():
    model = _summary_model()
    tok = random_tokens([4, 3, 5, 4, 6], model.config, 3)
    tok.values.mul_(torch.linspace(0.2, 3.0, tok.values.shape[-1]))  # spreads differ by number
    data = _Rows(tok)
    loss = SessionSummaryLoss(model)
    raw, valid = loss.target(data.tokens(range(5)))
    loss.fit_scale(data, batch_size=2)  # fitted over two reads and a partial one
    z, valid2 = loss.target(data.tokens(range(5)))
    loss.fit_scale(data, batch_size=3)  # fitting again starts from the raw numbers
    assert torch.allclose(loss.target(data.tokens(range(5)))[0], z, atol=1e-5)
    assert torch.equal(valid, valid2)
    seen = valid.sum(0) == 5  # numbers every session has
    assert seen.sum() > 10
    assert torch.allclose(z[:, seen].mean(0), torch.zeros(int(seen.sum())), atol=1e-4)
    spread = z[:, seen].std(0, unbiased=False)
    big = raw[:, seen].std(0, unbiased=False) > 0.1 * raw[:, seen].std(0).mean()
    assert torch.allclose(spread[big], torch.ones(int(big.sum())), atol=1e-3)
    # raw spreads differ a lot between numbers; standardized ones do not
    assert raw[:, seen].std(0).max() / raw[:, seen].std(0).min() > 2


def test_summary_scale_validation_and_cli(fake, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from clef.cli import app

    with pytest.raises(ValueError, match="summary_scale"):
        TrainConfig(cohort="c", out="o", summary_scale="zscore").validate()
    cohort, cfg_path, cache = fake
    out = tmp_path / "std"
    res = CliRunner().invoke(app, [
        "pretrain", "--cohort", str(cohort), "--config", str(cfg_path), "--stage", "recon",
        "--steps", "2", "--batch-size", "8", "--out", str(out), "--cache-dir", str(cache),
        "--eval-sessions", "0", "--summary-weight", "1", "--summary-scale", "standard", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "each number standardized" in (out / "MODEL_CARD.md").read_text()


def test_standard_summary_scale_resumes_exactly(fake, tmp_path):  # noqa: F811
    from clef.train import pretrain

    kw = {"stage": "recon", "steps": 6, "summary_weight": 1.0, "summary_scale": "standard",
          "ckpt_every": 3}
    pretrain(_cfg(fake, tmp_path / "a", **kw))
    log = _log(tmp_path / "a" / "train_log.jsonl")
    _, log_b = rerun_resumed_after(_cfg(fake, tmp_path / "b", **kw), 3)
    assert [x["loss"] for x in log] == [x["loss"] for x in log_b]
    pretrain(_cfg(fake, tmp_path / "raw", **{**kw, "summary_scale": "raw"}))
    raw = _log(tmp_path / "raw" / "train_log.jsonl")
    # standardized numbers have unit spread, so the untrained head's error is of order 1; the
    # raw run (same weights, same first batch) scores other numbers
    assert 0.5 < log[0]["summary"] < 5 and log[0]["summary"] != raw[0]["summary"]
