"""`clef pretrain`: two-stage CLEF pretraining on a cohort (logic in `clef.train`)."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer


def _command_line(ctx: typer.Context) -> str:
    """The options given on the command line, as a reproducible ``clef pretrain ...`` string."""
    parts = ["clef", ctx.info_name or "pretrain"]
    for param in ctx.command.params:
        source = getattr(ctx.get_parameter_source(param.name), "name", None)
        if param.name in ("resume", "quiet") or source != "COMMANDLINE":
            continue
        value = ctx.params[param.name]
        if getattr(param, "is_flag", False):
            parts.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)


# long: a typer command is its option list (one annotated parameter per CLI flag), not logic
def pretrain(
    ctx: typer.Context,
    cohort: Annotated[Path, typer.Option(help="Cohort folder (clef synth output or real).")],
    out: Annotated[Path, typer.Option(help="Output folder for the trained checkpoint.")],
    config: Annotated[str, typer.Option(help="Model config: clef-tiny, clef-base or a JSON path.")
                      ] = "clef-tiny",
    stage: Annotated[str, typer.Option(help="recon (stage 1), align (stage 2) or both.")] = "both",
    arch: Annotated[str, typer.Option(help="session (CLEF) or short-window (baseline).")
                    ] = "session",
    eeg_pool: Annotated[str | None, typer.Option(
        help="EEG attention pool: session (one over all tokens), region (one per region, keeps "
             "laterality) or session+region (default: the config's).")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimizer steps per stage.")] = None,
    epochs: Annotated[float, typer.Option(help="Epochs per stage (when --steps is not given).")
                      ] = 10.0,
    batch_size: Annotated[int, typer.Option(help="Global batch size.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW).")] = 5e-4,
    mask_ratio: Annotated[float, typer.Option(help="Masked share of tokens (stage 1).")] = 0.6,
    mask_unit: Annotated[str, typer.Option(
        help="What stage 1 hides together: token, time (all regions and bands of a time patch) "
             "or region (one region's bands at one time patch).")] = "token",
    recon_target: Annotated[str, typer.Option(
        help="Stage-1 target of the masked tokens: patches (MSE on the spectrogram patch) or "
             "codes (cross-entropy over the VQ codebook; needs --vq-tokenizer).")] = "patches",
    session_contrast: Annotated[float, typer.Option(
        help="Stage-1 session contrast weight: InfoNCE between two disjoint masked views of each "
             "session (0 = reconstruction only).")] = 0.0,
    summary_weight: Annotated[float, typer.Option(
        help="Stage-1 session-summary weight: the pooled embedding of the visible tokens predicts "
             "each region/band's mean spectrum and variability over the session (0 = off).")
                              ] = 0.0,
    summary_scale: Annotated[str, typer.Option(
        help="raw (MSE on the summary numbers) or standard (each standardized over the training "
             "sessions first, so small, rare changes count as much as broad spectral level).")
                             ] = "raw",
    contrast_temperature: Annotated[float, typer.Option(
        help="Temperature of the stage-1 session contrast.")] = 0.1,
    vq_tokenizer: Annotated[Path | None, typer.Option(
        help="A `clef tokenizer train` folder: tokens enter the model as its codes (see "
             "--token-input) and --recon-target codes predicts them.")] = None,
    token_input: Annotated[str | None, typer.Option(
        help="patch (linear patch projection) or vq (code embedding; default with --vq-tokenizer).")
                           ] = None,
    align_recon_weight: Annotated[float, typer.Option(
        help="Reconstruction term kept in stage 2 (0 = off).")] = 0.25,
    freeze_encoder: Annotated[bool, typer.Option(
        "--freeze-encoder", help="Stage 2 trains only the pool, projections and text/EHR towers; "
        "the stage-1 encoder stays locked (its states are computed once).")] = False,
    pool_token_drop: Annotated[float, typer.Option(
        help="Share of tokens hidden from the attention pool in stage 2 (augmentation).")] = 0.0,
    init_from: Annotated[Path | None, typer.Option(
        help="With --stage align: start from this stage-1 checkpoint's encoder (e.g. a "
             "--stage recon output).")] = None,
    text_weight: Annotated[float, typer.Option(help="EEG<->report loss weight (stage 2).")] = 1.0,
    text_target: Annotated[str, typer.Option(
        help="Stage-2 text targets: 'findings' (affirmed report statements + findings summary, "
             "multi-positive) or 'report' (the whole report).")] = "findings",
    statements_per_step: Annotated[int, typer.Option(
        help="Affirmed statements sampled per session and step (findings targets).")] = 2,
    negated_negatives: Annotated[bool, typer.Option(
        "--negated-negatives/--no-negated-negatives",
        help="Use one negated statement per session as an explicit negative.")] = True,
    describe_findings: Annotated[bool, typer.Option(
        "--describe-findings", help="Findings targets also hold the EEG description of each "
        "vocabulary finding a statement names.")] = False,
    text_keep_weight: Annotated[float, typer.Option(
        help="Penalty keeping text-text similarities close to the frozen backbone's.")] = 1.0,
    freeze_text: Annotated[bool, typer.Option(
        "--freeze-text/--train-text",
        help="Stage 2 keeps the text tower as initialised (locked text, the default) or trains "
             "its adapter (with --text-keep-weight).")] = True,
    ehr_weight: Annotated[float, typer.Option(help="EEG<->EHR loss weight (stage 2).")] = 0.5,
    seed: Annotated[int, typer.Option(help="Random seed (init, data order, masks).")] = 0,
    sites: Annotated[str | None, typer.Option(
        help="Comma-separated sites to train on (default: all).")] = None,
    max_sessions: Annotated[int | None, typer.Option(help="Cap on training sessions.")] = None,
    eval_sessions: Annotated[int, typer.Option(
        help="Test-split sessions for the model-card metrics (0 = none).")] = 256,
    ckpt_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 200,
    keep_checkpoints: Annotated[int, typer.Option(
        help="Newest checkpoints kept in WORK_DIR/checkpoints (0 = keep all, e.g. for a "
             "learning curve).")] = 2,
    log_every: Annotated[int, typer.Option(help="Steps between log lines.")] = 10,
    work_dir: Annotated[Path | None, typer.Option(
        help="Checkpoints, caches and log (default: --out).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Token/text cache (default: WORK_DIR/cache).")] = None,
    workers: Annotated[int, typer.Option(help="Processes for tokenizing the cohort.")] = 1,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (default: torch's).")
                       ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 (default: auto).")
                      ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest checkpoint.")
                      ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Pretrain CLEF: masked spectrogram reconstruction, then EEG<->report and EEG<->EHR alignment.

    Scales with `torchrun --nproc-per-node N -m clef.cli pretrain ...` (DDP; gloo on CPU).
    """
    from clef.errors import ClefError
    from clef.train import TrainConfig
    from clef.train import pretrain as run

    cfg = TrainConfig(
        cohort=str(cohort), out=str(out), config=config, arch=arch, eeg_pool=eeg_pool, stage=stage, steps=steps,
        epochs=epochs, batch_size=batch_size, lr=lr, mask_ratio=mask_ratio, mask_unit=mask_unit,
        recon_target=recon_target, session_contrast_weight=session_contrast,
        summary_weight=summary_weight, summary_scale=summary_scale,
        contrast_temperature=contrast_temperature, vq_tokenizer=str(vq_tokenizer) if vq_tokenizer else None,
        token_input=token_input,
        align_recon_weight=align_recon_weight, freeze_encoder=freeze_encoder,
        pool_token_drop=pool_token_drop, init_from=str(init_from) if init_from else None,
        text_weight=text_weight, ehr_weight=ehr_weight, seed=seed, text_target=text_target,
        statements_per_step=statements_per_step, negated_negatives=negated_negatives,
        describe_findings=describe_findings,
        text_keep_weight=text_keep_weight, freeze_text=freeze_text,
        sites=[s.strip() for s in sites.split(",") if s.strip()] if sites else None,
        max_sessions=max_sessions, eval_sessions=eval_sessions, ckpt_every=ckpt_every,
        keep_checkpoints=keep_checkpoints, log_every=log_every,
        work_dir=str(work_dir) if work_dir else None,
        cache_dir=str(cache_dir) if cache_dir else None, workers=workers, threads=threads, device=device,
        progress=not quiet,
        command=_command_line(ctx),
    )
    try:
        summary = run(cfg, resume=resume)
    except (ClefError, ValueError, FileNotFoundError) as e:
        typer.echo(f"clef pretrain: {e}", err=True)
        raise typer.Exit(2) from None
    if "weights_sha256" in summary:
        ev = summary.get("eval", {})
        typer.echo(f"saved {out} (sha256 {summary['weights_sha256'][:12]}), "
                   f"{summary['train_sessions']} sessions, steps {summary['steps']}"
                   + (f", test recall@1 {ev['eeg_to_report_recall@1']:.3f}"
                      if "eeg_to_report_recall@1" in ev else ""))


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain)
