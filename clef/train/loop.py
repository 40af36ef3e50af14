"""`pretrain(cfg)`: the two-stage CLEF pretraining run (CPU, one GPU, or DDP under torchrun).

Per stage: AdamW with linear warm-up and cosine decay, gradient clipping, bf16 autocast on CUDA,
periodic checkpoints (``clef.train.checkpoint``) and exact resume. At the end the model is saved
with ``save_pretrained`` into ``cfg.out`` with a model card (data, command, metrics).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from clef.errors import CheckpointMismatch, InvalidCohort
from clef.model.clef_model import CLEFModel
from clef.model.config import ModelConfig
from clef.model.ehr import build_ehr_vocab
from clef.train.card import model_card_info
from clef.train.checkpoint import (
    init_from_checkpoint,
    list_checkpoints,
    load_checkpoint,
    optimizer_from_tensors,
    restore_rng,
    save_checkpoint,
)
from clef.train.config import TrainConfig
from clef.train.data import (
    BatchPlan,
    PretrainData,
    clean_reports,
    default_device,
    fill_token_cache,
    select_sessions,
    text_features,
)
from clef.train.distributed import DistInfo, barrier, init_distributed, reduce_logs
from clef.train.frozen import FrozenStates
from clef.train.objective import PretrainObjective, param_groups, set_trainable
from clef.train.targets import TextTargets


# ------------------------------------------------------------------------------------ helpers
def lr_at(step: int, total: int, peak: float, warmup_frac: float, min_frac: float) -> float:
    """Linear warm-up over ``warmup_frac`` of the steps (at least 1), then cosine to min_frac."""
    warm = max(1, round(warmup_frac * total))
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (min_frac + (1.0 - min_frac) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


def encoder_key(model: CLEFModel) -> str:
    """Hash of the EEG encoder's weights and tokenizer config: names a locked encoder's states."""
    import hashlib

    h = hashlib.sha256(json.dumps(model.config.tokenizer, sort_keys=True, default=str).encode())
    for name, t in sorted(model.state_dict().items()):
        if not name.startswith(("eeg.embed.", "eeg.stack.")):  # the locked part (stage 1)
            continue
        h.update(name.encode())
        h.update(t.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------ setup
def _model_config(cfg: TrainConfig, rows) -> ModelConfig:
    mc = ModelConfig.load(cfg.config).with_arch(cfg.arch).resolve()
    dx, med = build_ehr_vocab(rows, mc.ehr.min_count, mc.ehr.prefixes)
    mc = mc.with_ehr_vocab(dx, med)
    if cfg.eeg_pool is not None:
        mc.eeg_pool = cfg.eeg_pool
    if cfg.vq_tokenizer or cfg.token_input:  # VQ input / masked-code targets
        mc.vq_tokenizer = cfg.vq_tokenizer or mc.vq_tokenizer
        mc.token_input = cfg.token_input or ("vq" if cfg.vq_tokenizer else mc.token_input)
        mc = mc.resolve()
    if cfg.summary_weight > 0 and "recon" in cfg.stages():
        mc.summary_head = True  # stage 1 trains pool + projection: their output is the embedding
    mc.eeg_output = "mean" if cfg.stages() == ["recon"] and not mc.summary_head else "shared"
    if cfg.stage == "recon" or (cfg.stage == "align" and not cfg.init_from):
        mc.name = f"{mc.name}-{cfg.stage}"  # a one-stage model (with init_from: both stages)
    return mc


def _check_resume(cfg: TrainConfig, state: dict, path: Path) -> None:
    old = state.get("train_config", {})
    new = cfg.to_dict()
    default = TrainConfig().to_dict()  # keys added after a checkpoint was written
    diff = [k for k in TrainConfig.RESUME_KEYS if old.get(k, default[k]) != new.get(k)]
    if diff:
        pairs = ", ".join(f"{k}: checkpoint {old.get(k)!r} vs now {new.get(k)!r}" for k in diff)
        raise CheckpointMismatch(f"{path}: cannot resume, the run settings differ ({pairs}). Fix: "
                                 "rerun with the checkpoint's settings, or use a new --out.")


def _prepare_data(cfg: TrainConfig, mc: ModelConfig, rows, cohort, cache_root: Path, di: DistInfo,
                  split: str = "train"):
    """Fill the token cache and text features.

    Returns (rows, token cache, text features (n, feat_dim), alignment texts, skipped
    {id: error}, findings targets or None). With ``text_target == "findings"`` the alignment
    text of a session is its findings summary (its cleaned report when it affirms nothing).
    """
    from clef.tokenizer import TokenCache

    cache = TokenCache(cache_root / "tokens", mc.tokenizer_config())
    ids = rows["session_id"].astype(str).tolist()
    errors = fill_token_cache(cohort, ids, cache, cfg.workers, cfg.progress, di.rank, di.world)
    barrier(di)
    if di.world > 1:  # every rank must drop the same sessions
        gathered = [None] * di.world
        dist.all_gather_object(gathered, errors)
        errors = {k: v for e in gathered for k, v in e.items()}
    keep = [s not in errors and s in cache for s in ids]
    rows = rows[np.asarray(keep, bool)].reset_index(drop=True)
    if len(rows) < 2:
        raise InvalidCohort(f"only {len(rows)} usable {split} sessions after tokenization "
                            f"({len(errors)} failed, e.g. {next(iter(errors.items()), None)}). "
                            "Fix: check the cohort's recordings.")
    reports = rows["report"].tolist()
    if di.main:  # the main rank fills the text cache first; the others then read it
        feats, clean, targets = _text_inputs(reports, cfg, mc, cache_root / "text", cfg.progress)
    barrier(di)
    if not di.main:
        feats, clean, targets = _text_inputs(reports, cfg, mc, cache_root / "text", False)
    return rows, cache, feats, clean, errors, targets


def _text_inputs(reports, cfg: TrainConfig, mc: ModelConfig, text_dir: Path, progress: bool):
    """Backbone features of each session's alignment text, the texts, and findings targets.

    With ``text_target == "findings"`` a session's alignment text is its findings summary (its
    cleaned report when the report affirms nothing) and the statements become ``TextTargets``.
    """
    def encode(texts):
        return text_features(texts, mc.text, text_dir, progress)

    clean = clean_reports(reports, mc.text)
    targets = None
    if cfg.text_target == "findings":
        targets = TextTargets.from_reports(reports, encode, describe=cfg.describe_findings)
        clean = [s or c for s, c in zip(targets.summaries, clean)]
    return encode(clean), clean, targets


# ------------------------------------------------------------------------------------ main
@dataclass
class _Run:
    """What the steps of one :func:`pretrain` run share (built by :func:`_start_run`)."""

    cfg: TrainConfig
    di: DistInfo
    device: torch.device
    out: Path
    work: Path
    cache_root: Path
    ckdir: Path
    log_path: Path
    ck_model: dict | None = None  # resume point: weights, optimizer tensors, state
    ck_opt: dict | None = None
    ck_state: dict | None = None


@dataclass
class _Plan:
    """The model, its data and the schedule of a run (built by :func:`_build_model_and_data`)."""

    cohort: object
    mc: ModelConfig
    model: CLEFModel
    data: PretrainData
    skipped: dict
    plan: BatchPlan
    stages: list[str]
    totals: list[int]
    offsets: np.ndarray  # global step at the start of each stage
    init_info: dict | None
    start_stage: int
    start_step: int
    history: list[dict]


def pretrain(cfg: TrainConfig, resume: bool = False) -> dict:
    """Run pretraining as configured; returns a summary dict (also written to metrics.json).

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool
        Continue from the newest checkpoint under ``<work_dir>/checkpoints`` (exactly: same
        weights, optimizer, schedule, data order and masks as an uninterrupted run).

    Returns
    -------
    dict
        Stages, steps, sessions, wall time, the last logged losses per stage and, on the main
        rank, held-out metrics and the saved weights' sha256.
    """
    cfg.validate()
    t_start = time.time()
    run = _start_run(cfg)
    _find_resume_point(run, resume)
    p = _build_model_and_data(run)
    if run.di.main:
        run.work.mkdir(parents=True, exist_ok=True)
        _truncate_log(run.log_path, p.offsets[p.start_stage] + p.start_step if run.ck_state else 0)
    objective = PretrainObjective(p.model, cfg)
    if objective.summary_loss is not None and cfg.summary_scale == "standard":
        objective.summary_loss.fit_scale(p.data)  # same data -> same scale when resuming
    last_logs: dict[str, dict] = {}
    for si, stage in enumerate(p.stages):
        if si < p.start_stage or (si == p.start_stage and p.start_step >= p.totals[si]):
            continue
        first = p.start_step if si == p.start_stage else 0
        _train_stage(run, p, objective, si, first, last_logs)
        p.start_step = 0
    return _finish(run, p, last_logs, t_start)


def _start_run(cfg: TrainConfig) -> _Run:
    """Threads, the process group, the device and the run's folders."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    di = init_distributed(cfg.device)
    if di.world > 1 and cfg.text_target == "findings" and "align" in cfg.stages():
        raise ValueError("findings-level text targets (--text-target findings) run in one "
                         "process. Fix: run stage 2 without torchrun, or pass --text-target "
                         "report.")
    device = default_device(cfg.device)
    if device.type == "cuda" and di.world > 1:
        device = torch.device("cuda", di.local_rank)
        torch.cuda.set_device(device)
    out = Path(cfg.out)
    work = Path(cfg.work_dir) if cfg.work_dir else out
    return _Run(cfg=cfg, di=di, device=device, out=out, work=work,
                cache_root=Path(cfg.cache_dir) if cfg.cache_dir else work / "cache",
                ckdir=work / "checkpoints", log_path=work / "train_log.jsonl")


def _find_resume_point(run: _Run, resume: bool) -> None:
    """Load the newest checkpoint when resuming; refuse to overwrite an earlier run's."""
    if resume:
        cks = list_checkpoints(run.ckdir)
        if cks:
            run.ck_model, run.ck_opt, run.ck_state = load_checkpoint(cks[-1])
            _check_resume(run.cfg, run.ck_state, cks[-1])
        elif run.di.main:
            print(f"clef pretrain: no checkpoint under {run.ckdir}; starting from scratch")
    elif list_checkpoints(run.ckdir):
        raise CheckpointMismatch(f"{run.ckdir} holds checkpoints of an earlier run. Fix: pass "
                                 "--resume to continue it, or use another --out/--work-dir (or "
                                 "delete them) to start over.")


def _build_model_and_data(run: _Run) -> _Plan:
    """Sessions, tokens, text features, the model (fresh, initialised or resumed) and the
    schedule. The order of the random draws (seed, data, model init, text basis, resumed RNG
    state) is the order of an uninterrupted run's, which exact resume relies on."""
    from clef.cohort import Cohort

    cfg, di, ck_state = run.cfg, run.di, run.ck_state
    cohort = Cohort.load(cfg.cohort)
    rows = select_sessions(cohort.sessions, "train", cfg.sites, cfg.max_sessions)
    if ck_state is not None:
        mc = ModelConfig.from_dict(ck_state["model_config"])
    else:
        mc = _model_config(cfg, rows)
    torch.manual_seed(cfg.seed)
    rows, cache, feats, clean, skipped, targets = _prepare_data(cfg, mc, rows, cohort,
                                                                run.cache_root, di)
    model = CLEFModel(mc).to(run.device)
    data = PretrainData(rows, cache, feats, model.ehr, clean, targets, cfg.statements_per_step,
                        cfg.negated_negatives)
    if mc.text.adapter == "residual" and run.ck_model is None:  # tower starts as the backbone
        corpus = targets.feats if targets is not None and len(targets.feats) else feats
        kept = model.text.fit_basis(corpus)
        if di.main and cfg.progress:
            print(f"text tower basis: {kept:.1%} of the training text's backbone energy kept")
    plan = BatchPlan(len(data), cfg.batch_size, cfg.seed, di.world)
    stages = cfg.stages()
    totals = [cfg.steps or plan.steps_for_epochs(cfg.epochs) for _ in stages]
    offsets = np.concatenate([[0], np.cumsum(totals)]).astype(int)
    init_info = ck_state.get("init_from_info") if ck_state else None
    if run.ck_model is not None:
        model.load_state_dict(run.ck_model, strict=True)
        restore_rng(run.ck_opt)
    elif cfg.init_from:
        init_info = init_from_checkpoint(model, cfg.init_from)
    return _Plan(cohort=cohort, mc=mc, model=model, data=data, skipped=skipped, plan=plan,
                 stages=stages, totals=totals, offsets=offsets, init_info=init_info,
                 start_stage=ck_state["stage_index"] if ck_state else 0,
                 start_step=ck_state["step"] if ck_state else 0,
                 history=list(ck_state.get("history", [])) if ck_state else [])


def _stage_optimizer(run: _Run, p: _Plan, si: int, stage: str, first: int):
    """Freeze what the stage does not train; AdamW over the rest (its state restored when the
    run resumes inside this stage)."""
    set_trainable(p.model, stage, run.cfg)
    opt = torch.optim.AdamW(param_groups(p.model, run.cfg.weight_decay), lr=run.cfg.lr,
                            betas=tuple(run.cfg.betas))
    if run.ck_state is not None and si == p.start_stage and first > 0:
        optimizer_from_tensors(opt, run.ck_opt, run.ck_state["optimizer"])
    return opt


def _frozen_states(run: _Run, p: _Plan) -> FrozenStates:
    """Token states of the locked encoder, computed once per encoder and cached on disk."""
    frozen = FrozenStates(p.model, p.data, run.device)
    states_file = run.cache_root / "states" / f"{encoder_key(p.model)}.npz"
    if states_file.exists():
        frozen.load(states_file)
    if any(s is None for s in frozen.states):
        frozen.fill(range(len(p.data)), progress=run.cfg.progress and run.di.main)
        if run.di.main:
            frozen.save(states_file)
    return frozen


def _train_stage(run: _Run, p: _Plan, objective, si: int, first: int,
                 last_logs: dict[str, dict]) -> None:
    """Steps ``first`` .. end of stage ``si``: optimise, log every ``log_every`` steps,
    checkpoint every ``ckpt_every`` steps and at the end."""
    from tqdm.auto import tqdm

    cfg, di, stage, total = run.cfg, run.di, p.stages[si], p.totals[si]
    opt = _stage_optimizer(run, p, si, stage, first)
    frozen = _frozen_states(run, p) if stage == "align" and cfg.freeze_encoder else None
    source = frozen if frozen is not None else p.data
    runner = objective
    if di.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        device = run.device
        runner = DDP(objective, device_ids=[device.index] if device.type == "cuda" else None)
    p.model.train()
    bar = tqdm(range(first, total), desc=f"stage {si + 1}/{len(p.stages)} {stage}",
               unit="step", disable=not (cfg.progress and di.main), initial=first, total=total)
    acc: dict[str, list[float]] = {}
    t0 = time.time()
    for step in bar:
        lr = lr_at(step, total, cfg.lr, cfg.warmup_frac, cfg.min_lr_frac)
        batch = source.batch(p.plan.local_batch(si, step, di.rank), cfg.seed, si, step)
        vals = _train_step(run, p.model, runner, opt, batch, stage, lr)
        for k, v in vals.items():
            acc.setdefault(k, []).append(v)
        bar.set_postfix(loss=f"{vals['loss']:.4f}", lr=f"{lr:.2e}")
        done = step + 1
        if done % cfg.log_every == 0 or done == total:
            _log_progress(run, p, si, done, lr, time.time() - t0, acc, last_logs)
            acc = {}
        if done % cfg.ckpt_every == 0 or done == total:
            if di.main:
                save_checkpoint(run.ckdir, int(p.offsets[si] + done), p.model, opt,
                                {"stage_index": si, "step": done, "stage": stage,
                                 "total": total, "train_config": cfg.to_dict(),
                                 "model_config": p.mc.to_dict(), "world": di.world,
                                 "init_from_info": p.init_info,
                                 "history": p.history[-200:]},
                                keep=cfg.keep_checkpoints)
            barrier(di)
    bar.close()


def _train_step(run: _Run, model: CLEFModel, runner, opt, batch, stage: str,
                lr: float) -> dict[str, float]:
    """One optimiser step at learning rate ``lr``; the step's logs, averaged over ranks."""
    cfg = run.cfg
    for g in opt.param_groups:
        g["lr"] = lr
    if run.device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            loss, logs = runner(batch, stage)
    else:
        loss, logs = runner(batch, stage)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    logs["loss"] = loss.detach()
    if cfg.grad_clip > 0:
        logs["grad_norm"] = torch.nn.utils.clip_grad_norm_(
            [q for q in model.parameters() if q.requires_grad], cfg.grad_clip)
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0.0, cfg.max_logit_scale)
        model.logit_scale_ehr.clamp_(0.0, cfg.max_logit_scale)
    return reduce_logs(logs, run.di)


def _log_progress(run: _Run, p: _Plan, si: int, done: int, lr: float, elapsed: float,
                  acc: dict[str, list[float]], last_logs: dict[str, dict]) -> None:
    """One line of the training log: the means since the last line (main rank writes it)."""
    stage = p.stages[si]
    line = {"stage": stage, "step": done, "global_step": int(p.offsets[si] + done),
            "lr": lr, "time_s": round(elapsed, 3),
            **{k: float(np.mean(v)) for k, v in acc.items()}}
    if stage == "align":
        line["temperature_text"] = float(1.0 / p.model.logit_scale.detach().exp())
        line["temperature_ehr"] = float(1.0 / p.model.logit_scale_ehr.detach().exp())
    last_logs[stage] = line
    p.history.append(line)
    if run.di.main:
        with open(run.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def _finish(run: _Run, p: _Plan, last_logs: dict[str, dict], t_start: float) -> dict:
    """Held-out evaluation, the saved model with its card, metrics.json; the run's summary."""
    cfg, di, model = run.cfg, run.di, p.model
    model.eval()
    summary = {"stages": p.stages, "steps": p.totals, "train_sessions": len(p.data),
               "init_from": p.init_info,
               "skipped_sessions": len(p.skipped), "world_size": di.world,
               "device": run.device.type,
               "wall_s": round(time.time() - t_start, 1),
               "final": {s: {k: v for k, v in d.items() if k not in ("stage",)}
                         for s, d in last_logs.items()}}
    if di.main and cfg.eval_sessions > 0:
        summary["eval"] = evaluate_cohort(model, cfg, p.cohort, run.cache_root, di)
    if di.main:
        card = model_card_info(cfg, p.cohort, p.data, summary, p.skipped)
        model.training_info = card
        sha = model.save_pretrained(run.out, card)
        summary["weights_sha256"] = sha
        (run.out / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n",
                                              encoding="utf-8")
    barrier(di)
    if di.owns_group:
        dist.destroy_process_group()
    return summary


def _truncate_log(path: Path, keep_until: int) -> None:
    """Drop log lines after the resumed global step (they would be repeated)."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("global_step", 0) <= keep_until]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------ metrics
@torch.no_grad()
def evaluate_cohort(model: CLEFModel, cfg: TrainConfig, cohort, cache_root: Path,
                    di: DistInfo) -> dict:
    """Held-out ("test" split) metrics: masked-reconstruction MSE (masked-code cross-entropy with
    ``recon_target="codes"``) and EEG<->report / EEG<->EHR
    retrieval (recall@1/@5 among the evaluated sessions; chance = 1/n)."""
    try:
        rows = select_sessions(cohort.sessions, "test", cfg.sites, cfg.eval_sessions)
    except InvalidCohort:
        return {"note": "no test-split sessions"}
    try:
        rows, cache, feats, clean, _, _ = _prepare_data(cfg, model.config, rows, cohort,
                                                        cache_root, DistInfo(), split="test")
    except InvalidCohort as e:
        return {"note": f"not evaluated: {e}"}
    data = PretrainData(rows, cache, feats, model.ehr, clean)
    objective = PretrainObjective(model, cfg)
    zs, zt, ze, rec = [], [], [], []
    for s in range(0, len(data), cfg.batch_size):
        idx = np.arange(s, min(s + cfg.batch_size, len(data)))
        b = data.batch(idx, cfg.seed + 1, 99, 0)
        rec.append(float(objective.recon_loss(b)) * len(idx))
        if model.config.eeg_output == "shared":
            zs.append(model.encode_eeg(b.tokens).float().cpu())
            zt.append(model.encode_text_features(b.text).float().cpu())
            ze.append(torch.nn.functional.normalize(model.ehr(b.ehr), dim=-1).float().cpu())
    name = "eval_recon_mse" if cfg.recon_target == "patches" else "eval_masked_code_ce"
    out = {"eval_sessions": len(data), name: sum(rec) / len(data)}
    if zs:
        eeg = torch.cat(zs)
        for name, other, groups in (("report", torch.cat(zt), data.text_group),
                                    ("ehr", torch.cat(ze), data.ehr_group)):
            sim = eeg @ other.t()  # (n, n)
            same = groups[:, None] == groups[None, :]
            for k in (1, 5):
                top = sim.topk(min(k, len(eeg)), dim=1).indices
                out[f"eeg_to_{name}_recall@{k}"] = float(same.gather(1, top).any(1).float().mean())
            out[f"eeg_{name}_pos_cosine"] = float(sim.diag().mean())
        out["chance_recall@1"] = 1.0 / len(eeg)
    return out
