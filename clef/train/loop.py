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
from clef.train.frozen import FrozenStates
from clef.train.objective import PretrainObjective, param_groups, set_trainable
from clef.train.targets import TextTargets


# ------------------------------------------------------------------------------------ helpers
@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we called init_process_group (and destroy it at the end)

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_hint: str | None = None) -> DistInfo:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), or reuse one already up.

    Backend: nccl on CUDA, gloo on CPU.
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(),
                        int(os.environ.get("LOCAL_RANK", dist.get_rank())), False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    use_cuda = torch.cuda.is_available() and (device_hint is None or "cuda" in device_hint)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(),
                    int(os.environ.get("LOCAL_RANK", "0")), True)


def barrier(di: DistInfo) -> None:
    if di.world > 1:
        dist.barrier()


def lr_at(step: int, total: int, peak: float, warmup_frac: float, min_frac: float) -> float:
    """Linear warm-up over ``warmup_frac`` of the steps (at least 1), then cosine to min_frac."""
    warm = max(1, round(warmup_frac * total))
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (min_frac + (1.0 - min_frac) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


def _reduce_logs(logs: dict, di: DistInfo) -> dict[str, float]:
    keys = sorted(logs)
    if not keys:
        return {}
    v = torch.stack([logs[k].float().detach().cpu() for k in keys])
    if di.world > 1:
        dist.all_reduce(v)
        v /= di.world
    return {k: float(x) for k, x in zip(keys, v)}


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
    mc.eeg_output = "mean" if cfg.stages() == ["recon"] else "shared"
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
    clean = clean_reports(rows["report"].tolist(), mc.text)
    text_dir = cache_root / "text"
    targets = None
    for rank_turn in (True, False):  # the main rank fills the text cache first, then the others
        if rank_turn == di.main:
            progress = cfg.progress and di.main

            def encode(texts, progress=progress):
                return text_features(texts, mc.text, text_dir, progress)

            if cfg.text_target == "findings":
                targets = TextTargets.from_reports(rows["report"].tolist(), encode)
                clean = [s or c for s, c in zip(targets.summaries, clean)]
            feats = encode(clean)
        barrier(di)
    return rows, cache, feats, clean, errors, targets


# ------------------------------------------------------------------------------------ main
def pretrain(cfg: TrainConfig, resume: bool = False) -> dict:
    """Run pretraining as configured; returns a summary dict (also written to metrics.json).

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool
        Continue from the newest checkpoint under ``<work_dir>/checkpoints`` (exactly: same
        weights, optimizer, schedule, data order and masks as an uninterrupted run).
    """
    from tqdm.auto import tqdm

    from clef.cohort import Cohort

    cfg.validate()
    t_start = time.time()
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
    cache_root = Path(cfg.cache_dir) if cfg.cache_dir else work / "cache"
    ckdir = work / "checkpoints"
    log_path = work / "train_log.jsonl"

    # -- resume point
    ck_model = ck_opt = ck_state = None
    if resume:
        cks = list_checkpoints(ckdir)
        if cks:
            ck_model, ck_opt, ck_state = load_checkpoint(cks[-1])
            _check_resume(cfg, ck_state, cks[-1])
        elif di.main:
            print(f"clef pretrain: no checkpoint under {ckdir}; starting from scratch")
    elif list_checkpoints(ckdir):
        raise CheckpointMismatch(f"{ckdir} holds checkpoints of an earlier run. Fix: pass --resume "
                                 "to continue it, or use another --out/--work-dir (or delete "
                                 "them) to start over.")

    # -- data and model
    cohort = Cohort.load(cfg.cohort)
    rows = select_sessions(cohort.sessions, "train", cfg.sites, cfg.max_sessions)
    if ck_state is not None:
        mc = ModelConfig.from_dict(ck_state["model_config"])
    else:
        mc = _model_config(cfg, rows)
    torch.manual_seed(cfg.seed)
    rows, cache, feats, clean, skipped, targets = _prepare_data(cfg, mc, rows, cohort, cache_root,
                                                                di)
    model = CLEFModel(mc).to(device)
    data = PretrainData(rows, cache, feats, model.ehr, clean, targets, cfg.statements_per_step,
                        cfg.negated_negatives)
    if mc.text.adapter == "residual" and ck_model is None:  # tower starts as the backbone
        corpus = targets.feats if targets is not None and len(targets.feats) else feats
        kept = model.text.fit_basis(corpus)
        if di.main and cfg.progress:
            print(f"text tower basis: {kept:.1%} of the training text's backbone energy kept")
    plan = BatchPlan(len(data), cfg.batch_size, cfg.seed, di.world)
    stages = cfg.stages()
    totals = [cfg.steps or plan.steps_for_epochs(cfg.epochs) for _ in stages]
    offsets = np.concatenate([[0], np.cumsum(totals)]).astype(int)
    init_info = ck_state.get("init_from_info") if ck_state else None
    if ck_model is not None:
        model.load_state_dict(ck_model, strict=True)
        restore_rng(ck_opt)
    elif cfg.init_from:
        init_info = init_from_checkpoint(model, cfg.init_from)
    start_stage = ck_state["stage_index"] if ck_state else 0
    start_step = ck_state["step"] if ck_state else 0
    history = list(ck_state.get("history", [])) if ck_state else []
    if di.main:
        work.mkdir(parents=True, exist_ok=True)
        _truncate_log(log_path, offsets[start_stage] + start_step if ck_state else 0)

    autocast = {"device_type": "cuda", "dtype": torch.bfloat16} if device.type == "cuda" else None
    objective = PretrainObjective(model, cfg)
    last_logs: dict[str, dict] = {}
    for si, stage in enumerate(stages):
        total = totals[si]
        if si < start_stage or (si == start_stage and start_step >= total):
            continue
        first = start_step if si == start_stage else 0
        set_trainable(model, stage, cfg)
        opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                                betas=tuple(cfg.betas))
        if ck_state is not None and si == start_stage and first > 0:
            optimizer_from_tensors(opt, ck_opt, ck_state["optimizer"])
        frozen = None
        if stage == "align" and cfg.freeze_encoder:
            frozen = FrozenStates(model, data, device)
            states_file = cache_root / "states" / f"{encoder_key(model)}.npz"
            if states_file.exists():
                frozen.load(states_file)
            if any(s is None for s in frozen.states):
                frozen.fill(range(len(data)), progress=cfg.progress and di.main)
                if di.main:
                    frozen.save(states_file)
        runner = objective
        if di.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            runner = DDP(objective, device_ids=[device.index] if device.type == "cuda" else None)
        model.train()
        bar = tqdm(range(first, total), desc=f"stage {si + 1}/{len(stages)} {stage}",
                   unit="step", disable=not (cfg.progress and di.main), initial=first, total=total)
        acc: dict[str, list[float]] = {}
        t0 = time.time()
        for step in bar:
            lr = lr_at(step, total, cfg.lr, cfg.warmup_frac, cfg.min_lr_frac)
            for g in opt.param_groups:
                g["lr"] = lr
            source = frozen if frozen is not None else data
            batch = source.batch(plan.local_batch(si, step, di.rank), cfg.seed, si, step)
            if autocast:
                with torch.autocast(**autocast):
                    loss, logs = runner(batch, stage)
            else:
                loss, logs = runner(batch, stage)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            logs["loss"] = loss.detach()
            if cfg.grad_clip > 0:
                logs["grad_norm"] = torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], cfg.grad_clip)
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0.0, cfg.max_logit_scale)
                model.logit_scale_ehr.clamp_(0.0, cfg.max_logit_scale)
            vals = _reduce_logs(logs, di)
            for k, v in vals.items():
                acc.setdefault(k, []).append(v)
            bar.set_postfix(loss=f"{vals['loss']:.4f}", lr=f"{lr:.2e}")
            done = step + 1
            if done % cfg.log_every == 0 or done == total:
                line = {"stage": stage, "step": done, "global_step": int(offsets[si] + done),
                        "lr": lr, "time_s": round(time.time() - t0, 3),
                        **{k: float(np.mean(v)) for k, v in acc.items()}}
                if stage == "align":
                    line["temperature_text"] = float(1.0 / model.logit_scale.detach().exp())
                    line["temperature_ehr"] = float(1.0 / model.logit_scale_ehr.detach().exp())
                last_logs[stage] = line
                history.append(line)
                if di.main:
                    with open(log_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(line) + "\n")
                acc = {}
            if done % cfg.ckpt_every == 0 or done == total:
                if di.main:
                    save_checkpoint(ckdir, int(offsets[si] + done), model, opt,
                                    {"stage_index": si, "step": done, "stage": stage,
                                     "total": total, "train_config": cfg.to_dict(),
                                     "model_config": mc.to_dict(), "world": di.world,
                                     "init_from_info": init_info,
                                     "history": history[-200:]},
                                    keep=cfg.keep_checkpoints)
                barrier(di)
        bar.close()
        start_step = 0

    # -- evaluation and the final checkpoint
    model.eval()
    summary = {"stages": stages, "steps": totals, "train_sessions": len(data),
               "init_from": init_info,
               "skipped_sessions": len(skipped), "world_size": di.world,
               "wall_s": round(time.time() - t_start, 1),
               "final": {s: {k: v for k, v in d.items() if k not in ("stage",)}
                         for s, d in last_logs.items()}}
    if di.main and cfg.eval_sessions > 0:
        summary["eval"] = evaluate_cohort(model, cfg, cohort, cache_root, di)
    if di.main:
        card = model_card_info(cfg, cohort, data, summary, skipped)
        model.training_info = card
        sha = model.save_pretrained(out, card)
        summary["weights_sha256"] = sha
        (out / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
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
    """Held-out ("test" split) metrics: masked-reconstruction MSE and EEG<->report / EEG<->EHR
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
    out = {"eval_sessions": len(data), "eval_recon_mse": sum(rec) / len(data)}
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


def model_card_info(cfg: TrainConfig, cohort, data: PretrainData, summary: dict,
                    skipped: dict) -> dict:
    meta = cohort.meta
    training_data = {
        "cohort": str(cfg.cohort),
        "kind": meta.get("kind"),
        "cohort_seed": meta.get("seed"),
        "generator_version": meta.get("generator_version"),
        "cohort_created_by": meta.get("created_by"),
        "train_sessions": len(data),
        "train_patients": int(data.rows["patient_id"].nunique()),
        "sites": sorted(data.rows["site"].astype(str).unique().tolist()),
        "split": "train (patient-level)" + ("; held-out concepts never appear in these reports"
                                            if meta.get("kind") == "synthetic" else ""),
        "skipped_sessions": len(skipped),
    }
    metrics: dict = {}
    for stage, d in summary.get("final", {}).items():
        for k, v in d.items():
            if k in ("loss", "recon", "clip_text", "clip_ehr", "temperature_text",
                     "temperature_ehr"):
                metrics[f"{stage}/{k} (last {cfg.log_every} steps)"] = v
    for k, v in (summary.get("eval") or {}).items():
        metrics[f"test/{k}"] = v
    metrics["steps per stage"] = ", ".join(str(s) for s in summary["steps"])
    metrics["wall time (s)"] = summary["wall_s"]
    notes = (f"arch={cfg.arch}, stage={cfg.stage}, batch {cfg.batch_size}, lr {cfg.lr}, "
             f"mask ratio {cfg.mask_ratio}, seed {cfg.seed}, world size {summary['world_size']}."
             " Test metrics are on the cohort's held-out (split 'test') patients; retrieval is "
             "among the evaluated sessions.")
    init = summary.get("init_from")
    if init:
        notes += (f" Stage 1 weights from {init['path']} (weights sha256 "
                  f"{init['weights_sha256'][:12]}).")
    if "align" in cfg.stages():
        if cfg.text_target == "findings":
            notes += (" Stage 2 aligned each session to its affirmed report statements "
                      f"({cfg.statements_per_step} sampled per step) and its findings summary "
                      "(multi-positive InfoNCE"
                      + ("; one negated statement per session as an explicit negative"
                         if cfg.negated_negatives else "") + ").")
        else:
            notes += " Stage 2 aligned each session to its whole preprocessed report."
        if cfg.text_keep_weight > 0:
            notes += (f" Text-text similarities were kept close to the frozen backbone's "
                      f"(weight {cfg.text_keep_weight}).")
    if cfg.freeze_encoder:
        notes += (" Stage 2 kept the encoder locked and trained the attention pool, projections "
                  f"and towers (pool token drop {cfg.pool_token_drop}).")
    if meta.get("kind") == "synthetic":
        notes += " Trained on synthetic data: a teaching/benchmark model, not for clinical use."
    return {"training_data": training_data, "command": cfg.command or "(python API)",
            "metrics": metrics, "notes": notes, "train_config": cfg.to_dict()}
