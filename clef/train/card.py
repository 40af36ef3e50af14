"""The model card's training section for a pretraining run: data, metrics and notes."""
from __future__ import annotations

from clef.train.config import TrainConfig
from clef.train.data import PretrainData


def model_card_info(cfg: TrainConfig, cohort, data: PretrainData, summary: dict,
                    skipped: dict) -> dict:
    """The ``training_info`` of a model card written at the end of :func:`clef.train.pretrain`.

    Parameters
    ----------
    cfg : TrainConfig
        The run's settings.
    cohort : clef.cohort.Cohort
        The training cohort (its ``meta`` names its kind, seed and generator).
    data : PretrainData
        The training sessions actually used.
    summary : dict
        The run's summary (stages, steps, last logs, held-out metrics, wall time).
    skipped : dict
        ``{session_id: error}`` of sessions that could not be tokenized.

    Returns
    -------
    dict
        ``training_data``, ``command``, ``metrics``, ``notes`` and ``train_config``.
    """
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
            if k in ("loss", "recon", "contrast", "summary", "clip_text", "clip_ehr", "temperature_text",
                     "temperature_ehr"):
                metrics[f"{stage}/{k} (last {cfg.log_every} steps)"] = v
    for k, v in (summary.get("eval") or {}).items():
        metrics[f"test/{k}"] = v
    metrics["steps per stage"] = ", ".join(str(s) for s in summary["steps"])
    metrics["wall time (s)"] = summary["wall_s"]
    init = summary.get("init_from") or {}
    if "wall_s" in init:  # the stage-1 run this one started from
        metrics["stage-1 wall time (s)"] = init["wall_s"]
    total_h = (summary["wall_s"] + init.get("wall_s", 0.0)) / 3600
    threads = f"{cfg.threads} torch thread(s)" if cfg.threads else "torch's default threads"
    metrics["training wall time, all stages (h)"] = (
        f"{total_h:.2f} on {summary.get('device', 'cpu').upper()}, {threads}")
    notes = (f"arch={cfg.arch}, stage={cfg.stage}, batch {cfg.batch_size}, lr {cfg.lr}, "
             f"mask ratio {cfg.mask_ratio}, seed {cfg.seed}, world size {summary['world_size']}."
             " Test metrics are on the cohort's held-out (split 'test') patients; retrieval is "
             "among the evaluated sessions.")
    if cfg.summary_weight > 0 and "recon" in cfg.stages():
        notes += (" Stage 1 also trained the pool and projection to predict each session's "
                  f"region/band mean spectra and their variability (weight {cfg.summary_weight}"
                  f"{', each number standardized' if cfg.summary_scale == 'standard' else ''}).")
    if cfg.session_contrast_weight > 0 and "recon" in cfg.stages():
        notes += (" Stage 1 added a session contrast between two disjoint masked views (weight "
                  f"{cfg.session_contrast_weight}, temperature {cfg.contrast_temperature}).")
    if init:
        notes += (f" Stage 1 weights from {init['path']} (weights sha256 "
                  f"{init['weights_sha256'][:12]}).")
    if "align" in cfg.stages():
        if cfg.text_target == "findings":
            notes += (" Stage 2 aligned each session to its affirmed report statements "
                      f"({cfg.statements_per_step} sampled per step) and its findings summary "
                      "(multi-positive InfoNCE"
                      + ("; one negated statement per session as an explicit negative"
                         if cfg.negated_negatives else "") + ")"
                      + (", plus the EEG description of each vocabulary finding a statement names"
                         if cfg.describe_findings else "") + ".")
        else:
            notes += " Stage 2 aligned each session to its whole preprocessed report."
        if cfg.freeze_text:
            notes += (" The text tower was kept as initialised: the shared space is the frozen "
                      "text backbone's, so text search keeps everything the backbone knows.")
        elif cfg.text_keep_weight > 0:
            notes += (f" Text-text similarities were kept close to the frozen backbone's "
                      f"(weight {cfg.text_keep_weight}).")
    if cfg.freeze_encoder:
        towers = "EHR tower" if cfg.freeze_text else "text/EHR towers"
        notes += (" Stage 2 kept the encoder locked and trained the attention pool, the EEG "
                  f"projection and the {towers} (pool token drop {cfg.pool_token_drop}).")
    if meta.get("kind") == "synthetic":
        notes += " Trained on synthetic data: a teaching/benchmark model, not for clinical use."
    return {"training_data": training_data, "command": cfg.command or "(python API)",
            "metrics": metrics, "notes": notes, "train_config": cfg.to_dict()}
