"""Pretraining: the real entry point end to end, exact resume, DDP gradients, schedule, plans.

A small fabricated cohort whose token cache is filled up front (tokens carry a per-concept
pattern, reports and EHR name the concept), so runs take seconds and both losses can fall.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from test_model import TINY
from typer.testing import CliRunner

from clef.cli import app
from clef.cohort_build import write_cohort
from clef.embedding import embed
from clef.errors import CheckpointMismatch
from clef.model import CLEFModel, ModelConfig
from clef.train import BatchPlan, TrainConfig, lr_at, pretrain

CONCEPTS = {  # concept -> (report phrase, diagnoses, medications)
    "normal": ("a normal well-organized background", [], []),
    "slowing": ("generalized theta and delta slowing", ["G93.41"], []),
    "spikes": ("frequent left temporal sharp waves", ["G40.309"], ["levetiracetam"]),
    "beta": ("excess diffuse beta activity", ["R41.82"], ["lorazepam"]),
}
N_SESSIONS = 24


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _report(i: int, concept: str) -> str:
    phrase = CONCEPTS[concept][0]
    return (f"CLINICAL HISTORY: patient {i}.\nDESCRIPTION OF THE RECORD: The record shows {phrase}."
            f"\nIMPRESSION: {'Normal' if concept == 'normal' else 'Abnormal'} EEG with {phrase}.")


def _fill_tokens(cache_root: Path, mc: ModelConfig, rows: pd.DataFrame) -> None:
    from clef.tokenizer import TokenCache
    from clef.tokens import Tokens

    cache = TokenCache(cache_root / "tokens", mc.tokenizer_config())
    e = mc.encoder
    g = torch.Generator().manual_seed(123)
    patterns = {c: torch.randn(e.patch_dim, generator=g) for c in CONCEPTS}
    for k, row in rows.iterrows():
        nt = 3 + k % 4  # time patches: sessions of different lengths
        tt, rr, bb = torch.meshgrid(torch.arange(nt), torch.arange(e.n_regions),
                                    torch.arange(e.n_bands), indexing="ij")
        n = tt.numel()
        vals = 0.5 * torch.randn(n, e.patch_dim, generator=g) + patterns[row["concept"]]
        tok = Tokens(vals[None], tt.reshape(1, -1), rr.reshape(1, -1), bb.reshape(1, -1),
                     torch.ones(1, n, dtype=torch.bool), 4.0)
        cache.put(row["session_id"], tok)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """(cohort dir, model config path, cache dir) with tokens for both archs pre-filled."""
    root = tmp_path_factory.mktemp("fake")
    names = list(CONCEPTS)
    rows = []
    for i in range(N_SESSIONS):
        c = names[i % 4]
        rows.append({"session_id": f"s{i:03d}", "patient_id": f"p{i // 2:03d}",
                     "site": "A" if i % 5 else "B", "path": None, "duration_s": 60.0,
                     "sfreq": 200.0, "age": 20.0 + i, "sex": "FM"[i % 2],
                     "setting": ["outpatient", "emu", "icu"][i % 3], "report": _report(i, c),
                     "diagnoses": CONCEPTS[c][1], "medications": CONCEPTS[c][2],
                     "split": "test" if i >= 20 else "train", "concept": c})
    df = pd.DataFrame(rows)
    tasks = pd.DataFrame({"session_id": df["session_id"], "task": "spikes",
                          "category": "finding", "held_out": False, "concept": "sharp waves",
                          "label": (df["concept"] == "spikes").astype("int8")})
    write_cohort(root / "cohort", df.drop(columns="concept"), tasks,
                 {"kind": "real", "seed": None, "created_by": "test"})
    cfg_path = root / "test-tiny.json"
    cfg_path.write_text(json.dumps(TINY))
    cache = root / "cache"
    for arch in ("session", "short-window"):
        _fill_tokens(cache, ModelConfig.load(cfg_path).with_arch(arch).resolve(), df)
    return root / "cohort", cfg_path, cache


def _cfg(fake, out: Path, **kw) -> TrainConfig:
    cohort, cfg_path, cache = fake
    base = {"cohort": str(cohort), "out": str(out), "config": str(cfg_path), "stage": "both",
            "steps": 4, "batch_size": 8, "lr": 2e-3, "seed": 1, "eval_sessions": 4,
            "ckpt_every": 2, "keep_checkpoints": 10, "log_every": 1, "cache_dir": str(cache),
            "progress": False}
    base.update(kw)
    return TrainConfig(**base)


def _log(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_pretrain_cli_end_to_end_loss_falls(fake, tmp_path):
    cohort, cfg_path, cache = fake
    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "pretrain", "--cohort", str(cohort), "--config", str(cfg_path), "--stage", "both",
        "--steps", "30", "--batch-size", "8", "--lr", "3e-3", "--out", str(out), "--cache-dir",
        str(cache), "--eval-sessions", "4", "--log-every", "1", "--ckpt-every", "15", "--quiet"])
    assert res.exit_code == 0, res.output
    log = _log(out / "train_log.jsonl")
    for stage in ("recon", "align"):
        loss = [x["loss"] for x in log if x["stage"] == stage]
        assert len(loss) == 30
        assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5]), (stage, loss)
    model = CLEFModel.from_pretrained(out)
    card = (out / "MODEL_CARD.md").read_text()
    assert "clef pretrain --cohort" in card and "train_sessions: 20" in card
    assert model.config.ehr.dx_vocab and "G40" in model.config.ehr.dx_vocab  # vocab from train rows
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_sessions"] == 20 and metrics["eval"]["eval_sessions"] == 4
    assert "eeg_to_report_recall@1" in metrics["eval"]


def test_resume_matches_uninterrupted_run(fake, tmp_path):
    a = pretrain(_cfg(fake, tmp_path / "a"))
    cfg_b = _cfg(fake, tmp_path / "b")
    pretrain(cfg_b)
    # simulate a crash after global step 2 (mid stage 1): drop everything written later
    ck = tmp_path / "b" / "checkpoints"
    for p in sorted(ck.glob("ckpt-*")):
        if int(p.name.split("-")[1]) > 2:
            import shutil

            shutil.rmtree(p)
    (tmp_path / "b" / "model.safetensors").unlink()
    resumed = pretrain(cfg_b, resume=True)
    wa = load_file(str(tmp_path / "a" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    la, lb = _log(tmp_path / "a" / "train_log.jsonl"), _log(tmp_path / "b" / "train_log.jsonl")
    assert [x["global_step"] for x in lb] == list(range(1, 9))  # no repeated lines
    assert [x["loss"] for x in la] == [x["loss"] for x in lb]
    assert a["steps"] == resumed["steps"] == [4, 4]
    with pytest.raises(CheckpointMismatch, match="batch_size"):
        pretrain(_cfg(fake, tmp_path / "b", batch_size=4), resume=True)
    with pytest.raises(CheckpointMismatch, match="earlier run"):  # no silent mixing of runs
        pretrain(_cfg(fake, tmp_path / "b"))


def test_resume_mid_align_with_locked_encoder_is_exact(fake, tmp_path):
    """Resume inside stage 2 (optimizer state restored, frozen token states reloaded)."""
    kw = {"freeze_encoder": True, "steps": 3, "ckpt_every": 1}
    a = pretrain(_cfg(fake, tmp_path / "a", **kw))
    cfg_b = _cfg(fake, tmp_path / "b", **kw)
    pretrain(cfg_b)
    for p in sorted((tmp_path / "b" / "checkpoints").glob("ckpt-*")):
        if int(p.name.split("-")[1]) > 4:  # crash after global step 4 (step 1 of stage 2)
            import shutil

            shutil.rmtree(p)
    assert any(int(p.name.split("-")[1]) == 4 for p in (tmp_path / "b" / "checkpoints").iterdir())
    (tmp_path / "b" / "model.safetensors").unlink()
    resumed = pretrain(cfg_b, resume=True)
    wa = load_file(str(tmp_path / "a" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    la, lb = _log(tmp_path / "a" / "train_log.jsonl"), _log(tmp_path / "b" / "train_log.jsonl")
    assert [x["global_step"] for x in lb] == list(range(1, 7))
    assert [x["loss"] for x in la] == [x["loss"] for x in lb]
    assert a["steps"] == resumed["steps"] == [3, 3]


def test_recon_only_and_short_window_baselines(fake, tmp_path):
    pretrain(_cfg(fake, tmp_path / "sw", stage="recon", arch="short-window", steps=2))
    m = CLEFModel.from_pretrained(tmp_path / "sw")
    assert m.config.arch == "short-window" and m.config.eeg_output == "mean"
    assert m.config.tokenizer["windows_per_patch"] == 5  # 10-s time patches
    assert m.eeg_dim == m.config.encoder.d_model
    rng = np.random.default_rng(0)
    z = embed(m, [(rng.standard_normal((19, 200 * 60)) * 2e-5).astype(np.float32)])
    assert z.shape == (1, m.config.encoder.d_model) and np.isfinite(z).all()


# ---------------------------------------------------------------------------------- DDP
def _grads_worker(rank: int, world: int, fake, init: str, out: str) -> None:
    """Gradients of one batch for both stages, with ``world`` DDP ranks (gloo) or alone."""
    import torch.distributed as dist
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    for stage in ("recon", "align"):
        cfg = _cfg(fake, Path(out), stage=stage, freeze_text=False)  # text grads checked too
        model, data, plan, objective = _setup(cfg, world)
        runner = objective
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            runner = DDP(objective)
        batch = data.batch(plan.local_batch(1, 3, rank), cfg.seed, 1, 3)
        loss, _ = runner(batch, stage)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()
                 if p.grad is not None}
        save_file(grads, f"{out}/grads-{stage}-{world}-{rank}.safetensors")
    if world > 1:
        dist.destroy_process_group()


def _setup(cfg: TrainConfig, world: int):
    from clef.cohort import Cohort
    from clef.tokenizer import TokenCache
    from clef.train.data import PretrainData, clean_reports, select_sessions, text_features
    from clef.train.loop import _model_config
    from clef.train.objective import PretrainObjective, set_trainable

    cohort = Cohort.load(cfg.cohort)
    rows = select_sessions(cohort.sessions, "train")
    mc = _model_config(cfg, rows)
    torch.manual_seed(cfg.seed)
    model = CLEFModel(mc)
    cache = TokenCache(Path(cfg.cache_dir) / "tokens", mc.tokenizer_config())
    clean = clean_reports(rows["report"].tolist(), mc.text)
    feats = text_features(clean, mc.text, Path(cfg.cache_dir) / "text", False)
    data = PretrainData(rows, cache, feats, model.ehr, clean)
    set_trainable(model, cfg.stages()[0], cfg)
    return model, data, BatchPlan(len(data), cfg.batch_size, cfg.seed, world), \
        PretrainObjective(model, cfg)


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_single_process_gradients(fake, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_grads_worker, args=(2, fake, str(tmp_path / "init"), str(tmp_path)), nprocs=2,
             join=True)
    _grads_worker(0, 1, fake, "", str(tmp_path))
    for stage in ("recon", "align"):
        single = load_file(str(tmp_path / f"grads-{stage}-1-0.safetensors"))
        r0 = load_file(str(tmp_path / f"grads-{stage}-2-0.safetensors"))
        r1 = load_file(str(tmp_path / f"grads-{stage}-2-1.safetensors"))
        assert single.keys() == r0.keys() == r1.keys() and len(single) > 10
        if stage == "align":
            assert any(k.startswith("text.") for k in single) and "logit_scale" in single
        for k in single:
            assert torch.equal(r0[k], r1[k]), k  # DDP synchronized the ranks
            assert torch.allclose(single[k], r0[k], rtol=1e-4, atol=1e-6), (
                stage, k, float((single[k] - r0[k]).abs().max()))


# ---------------------------------------------------------------------------------- units
def test_batch_plan_is_deterministic_and_rank_split():
    plan1, plan2 = BatchPlan(50, 8, seed=3, world=1), BatchPlan(50, 8, seed=3, world=2)
    assert plan1.per_epoch == 6
    for step in (0, 5, 6, 13):
        g = plan1.global_batch(0, step)
        assert np.array_equal(np.concatenate([plan2.local_batch(0, step, r) for r in (0, 1)]), g)
    epoch = np.concatenate([plan1.global_batch(0, s) for s in range(6)])
    assert len(set(epoch.tolist())) == 48  # one epoch: no repeats
    assert not np.array_equal(plan1.global_batch(0, 0), plan1.global_batch(1, 0))  # per stage
    with pytest.raises(ValueError, match="divide"):
        BatchPlan(50, 7, 0, world=2)


def test_lr_schedule_warmup_then_cosine():
    lrs = [lr_at(s, 100, 1.0, 0.1, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(lrs[:10]))
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)


def test_optimizer_state_round_trip():
    from clef.train.checkpoint import optimizer_from_tensors, optimizer_to_tensors

    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        lin(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    tensors, meta = optimizer_to_tensors(opt)
    json.dumps(meta)  # JSON-able
    opt2 = torch.optim.AdamW(lin.parameters(), lr=1.0)
    optimizer_from_tensors(opt2, tensors, meta)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for pid in s1["state"]:
        for k, v in s1["state"][pid].items():
            assert torch.equal(v, s2["state"][pid][k])


def test_train_config_validation():
    with pytest.raises(ValueError, match="stage"):
        TrainConfig(cohort="c", out="o", stage="both2").validate()
    with pytest.raises(ValueError, match="mask_ratio"):
        TrainConfig(cohort="c", out="o", mask_ratio=1.0).validate()
    with pytest.raises(ValueError, match="random encoder"):
        TrainConfig(cohort="c", out="o", stage="align", freeze_encoder=True).validate()
    with pytest.raises(ValueError, match="init_from"):
        TrainConfig(cohort="c", out="o", stage="both", init_from="x").validate()
    with pytest.raises(ValueError, match="pool_token_drop"):
        TrainConfig(cohort="c", out="o", pool_token_drop=1.0).validate()


def test_locked_encoder_stage2_from_a_recon_checkpoint(fake, tmp_path):
    """--stage align --init-from RECON --freeze-encoder: encoder weights stay those of stage 1,
    the pool/projections/towers learn (loss falls), and the frozen-states batches give the same
    loss as encoding the tokens."""
    from clef.train.frozen import FrozenStates
    from clef.train.objective import PretrainObjective

    pretrain(_cfg(fake, tmp_path / "recon", stage="recon", steps=3))
    cfg = _cfg(fake, tmp_path / "align", stage="align", steps=30, lr=3e-3, freeze_encoder=True,
               pool_token_drop=0.25, init_from=str(tmp_path / "recon"), ckpt_every=100)
    summary = pretrain(cfg)
    recon = load_file(str(tmp_path / "recon" / "model.safetensors"))
    aligned = load_file(str(tmp_path / "align" / "model.safetensors"))
    enc = [k for k in recon if k.startswith(("eeg.embed.", "eeg.stack."))]
    assert enc and all(torch.equal(recon[k], aligned[k]) for k in enc)
    assert not torch.equal(recon["eeg.pool.query"], aligned["eeg.pool.query"])
    loss = [x["loss"] for x in _log(tmp_path / "align" / "train_log.jsonl")]
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5]), loss
    assert summary["init_from"]["tensors"] == len(enc) + sum(k.startswith("decoder.")
                                                             for k in recon)
    card = (tmp_path / "align" / "MODEL_CARD.md").read_text()
    assert "Stage 2 kept the encoder locked" in card
    stage1_s = json.loads((tmp_path / "recon" / "metrics.json").read_text())["wall_s"]
    assert summary["init_from"]["wall_s"] == stage1_s  # the card counts both stages' time
    total_h = (summary["wall_s"] + stage1_s) / 3600
    assert f"| training wall time, all stages (h) | {total_h:.2f} on CPU" in card, card

    # cached states reproduce the token path exactly (no drop: eval mode)
    from clef.cohort import Cohort
    from clef.tokenizer import TokenCache
    from clef.train.data import PretrainData, clean_reports, select_sessions

    model = CLEFModel.from_pretrained(tmp_path / "align").eval()
    rows = select_sessions(Cohort.load(fake[0]).sessions, "train")
    cache = TokenCache(Path(fake[2]) / "tokens", model.config.tokenizer_config())
    from clef.model.text import backbone_dim

    feats = np.random.default_rng(0).standard_normal((len(rows), backbone_dim(model.config.text)))
    data = PretrainData(rows, cache, feats, model.ehr, clean_reports(rows["report"], model.config.text))
    idx = np.arange(6)
    frozen = FrozenStates(model, data, torch.device("cpu"))
    obj = PretrainObjective(model, cfg)
    with torch.no_grad():
        a, _ = obj(frozen.batch(idx, 0, 1, 0), "align")
        b, _ = obj(data.batch(idx, 0, 1, 0), "align")
    assert torch.allclose(a, b, atol=1e-3), (a, b)


def test_region_pool_stage2_from_a_session_pool_recon_checkpoint(fake, tmp_path):
    """--eeg-pool region on stage 2: the stage-1 encoder loads (the pool is not part of stage 1),
    the saved model pools per region, and the loss falls."""
    pretrain(_cfg(fake, tmp_path / "recon", stage="recon", steps=2))
    pretrain(_cfg(fake, tmp_path / "align", stage="align", steps=20, lr=3e-3, freeze_encoder=True,
                  init_from=str(tmp_path / "recon"), eeg_pool="region", ckpt_every=100))
    model = CLEFModel.from_pretrained(tmp_path / "align")
    e = model.config.encoder
    assert model.config.eeg_pool == "region"
    assert model.eeg_proj.weight.shape[1] == e.n_regions * e.d_model
    loss = [x["loss"] for x in _log(tmp_path / "align" / "train_log.jsonl")]
    assert np.mean(loss[-5:]) < np.mean(loss[:5]), loss
    with pytest.raises(ValueError, match="eeg_pool"):
        _cfg(fake, tmp_path / "x", eeg_pool="hemisphere").validate()


def test_init_from_rejects_another_encoder_size(fake, tmp_path):
    pretrain(_cfg(fake, tmp_path / "recon", stage="recon", steps=1))
    cfg = json.loads(Path(fake[1]).read_text())
    cfg["encoder"]["n_layers"] += 1
    other = tmp_path / "other.json"
    other.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointMismatch, match="encoder"):
        pretrain(_cfg(fake, tmp_path / "align", stage="align", config=str(other),
                      init_from=str(tmp_path / "recon"), freeze_encoder=True, steps=1))


@pytest.mark.slow
def test_pretrain_on_a_synthetic_cohort(fake, tmp_path):
    """The real data path: clef.synth cohort -> clef.io -> tokenizer cache -> model."""
    synth = pytest.importorskip("clef.synth")
    from clef.cohort import Cohort
    from clef.tokenizer import TokenCache

    cohort_dir = synth.generate_cohort(tmp_path / "cohort", 10, seed=5, minutes=1,
                                       signals="none", progress=False)
    cfg = _cfg(fake, tmp_path / "out", cohort=str(cohort_dir), cache_dir=None, steps=2,
               batch_size=4, eval_sessions=2)
    summary = pretrain(cfg)
    model = CLEFModel.from_pretrained(tmp_path / "out")
    cohort = Cohort.load(cohort_dir)
    train_ids = cohort.sessions.loc[cohort.sessions["split"] == "train", "session_id"].tolist()
    assert summary["train_sessions"] == len(train_ids) - summary["skipped_sessions"] >= 4
    cache = TokenCache(tmp_path / "out" / "cache" / "tokens", model.config.tokenizer_config())
    sid = train_ids[0]
    assert sid in cache
    with torch.no_grad():
        from_cache = model.encode_eeg(cache.get(sid)).numpy()
    from_signal = embed(model, [cohort.session(sid)])
    np.testing.assert_allclose(from_signal, from_cache, atol=1e-5)


@pytest.mark.parametrize("unit,key", [("time", lambda t: t.time_idx),
                                      ("region", lambda t: t.time_idx * 100 + t.region_idx)])
def test_mask_unit_hides_whole_units(unit, key):
    """--mask-unit time/region: every token of a unit gets its unit's noise, so select_visible
    hides units whole (all but the one unit split at the cut); "token" leaves the noise alone."""
    from test_model import random_tokens, tiny_config

    from clef.model.encoder import select_visible
    from clef.train.data import mask_noise, unit_noise

    tok = random_tokens([7, 4, 6], tiny_config(), seed=3)
    noise = mask_noise(tok, [0, 1, 2], seed=0, stage=0, step=0)
    assert unit_noise(noise, tok, "token") is noise
    shared = unit_noise(noise, tok, unit)
    assert torch.equal(shared[~tok.mask], noise[~tok.mask])  # padding keeps its 1.0
    _, _, _, masked = select_visible(tok, shared, 0.6)
    for b in range(3):
        real = tok.mask[b]
        keys, noises, hidden = key(tok)[b][real], shared[b][real], masked[b][real]
        split = 0
        for k in keys.unique():
            in_unit = keys == k
            assert noises[in_unit].unique().numel() == 1  # one value per unit
            split += int(0 < hidden[in_unit].sum() < in_unit.sum())
        assert split <= 1
        assert len(set(noises.tolist())) == keys.unique().numel()  # units differ
    with pytest.raises(ValueError, match="mask_unit"):
        TrainConfig(cohort="c", out="o", mask_unit="band").validate()
