"""`clef probe`: linear probes, zero-shot scoring and AUROC tables for a checkpoint on a cohort."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import exits_on


def _parse_pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise typer.BadParameter(f"{part!r} is not NAME=DIR (e.g. recon=runs/recon).",
                                         param_hint=option)
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def probe(
    cohort: Annotated[Path, typer.Option(help="Cohort folder (with tasks.parquet).")],
    out: Annotated[Path, typer.Option(help="Output folder for results.csv, summary.md, plots.")],
    checkpoint: Annotated[Path | None, typer.Option(
        help="CLEF checkpoint folder (or shipped name); default: the shipped clef-tiny.")
    ] = None,
    baselines_only: Annotated[bool, typer.Option(
        "--baselines-only", help="Probe the baselines only (no CLEF checkpoint).")] = False,
    baselines: Annotated[str, typer.Option(
        help="Comma-separated: recon, short-window, band-power, random, oracle.")] =
        "recon,short-window,band-power,random,oracle",
    baseline_checkpoints: Annotated[list[str] | None, typer.Option(
        "--baseline-checkpoints", help="NAME=DIR for model baselines, e.g. recon=runs/recon "
                                       "short-window=runs/sw (repeat or comma-separate).")] = None,
    embeddings: Annotated[list[str] | None, typer.Option(
        "--embeddings", help="NAME=STORE for representations already embedded by `clef embed` "
                             "(e.g. clef=runs/store), used instead of encoding here.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for 95% intervals.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of splits, inner CV and bootstrap.")] = 0,
    train_site: Annotated[str, typer.Option(help="Site the probes are trained on.")] = "A",
    zeroshot: Annotated[bool, typer.Option("--zeroshot/--no-zeroshot",
                                           help="Zero-shot concept scoring.")] = True,
    min_pos_train: Annotated[int, typer.Option(
        help="Positive (and negative) training sessions a task needs.")] = 10,
    min_pos_test: Annotated[int, typer.Option(
        help="Positive (and negative) test sessions a task needs for an AUROC.")] = 5,
    device: Annotated[str, typer.Option(help="Torch device for the encoders.")] = "cpu",
    batch_size: Annotated[int, typer.Option(help="Sessions per encoder batch.")] = 8,
    n_jobs: Annotated[int, typer.Option(help="Processes reading/regenerating sessions.")] = 1,
    cache: Annotated[Path | None, typer.Option(
        help="Feature cache folder (default OUT/features); a rerun resumes from it.")] = None,
    compare_to: Annotated[Path | None, typer.Option(
        help="Output folder of an earlier `clef probe` run: summary.md prints its zero-shot, "
             "unseen-phrasings and text-side numbers next to this run's.")] = None,
    append: Annotated[Path | None, typer.Option(
        help="A markdown file (e.g. an ablation table) printed in summary.md.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
) -> None:
    """Probe frozen session embeddings on the cohort's task battery (patient-level splits)."""
    from clef.commands.defaults import checkpoint_or_default
    from clef.errors import ClefError
    from clef.probe.pipeline import ProbeRunConfig, run_probe
    from clef.probe.representations import REPRESENTATIONS

    names = tuple(b.strip() for b in baselines.split(",") if b.strip())
    bad = sorted(set(names) - set(REPRESENTATIONS) - {"clef"})
    if bad:
        raise typer.BadParameter(f"unknown baseline(s) {bad}; choose from "
                                 f"{', '.join(REPRESENTATIONS[1:])}.", param_hint="--baselines")
    cfg = ProbeRunConfig(baselines=tuple(n for n in names if n != "clef"), n_boot=n_boot,
                         seed=seed, train_site=train_site, zeroshot=zeroshot,
                         compare_to=str(compare_to) if compare_to else None,
                         append_md=str(append) if append else None)
    cfg.battery.min_pos_train, cfg.battery.min_pos_test = min_pos_train, min_pos_test
    cfg.representation.device = device
    cfg.representation.batch_size = batch_size
    cfg.representation.n_jobs = n_jobs
    if baselines_only and checkpoint is not None:
        raise typer.BadParameter("give --checkpoint or --baselines-only, not both",
                                 param_hint="--baselines-only")
    if not baselines_only:
        with exits_on(ClefError):
            checkpoint = Path(checkpoint_or_default(checkpoint))
    pairs = _parse_pairs(baseline_checkpoints or [], "--baseline-checkpoints")
    stores = _parse_pairs(embeddings or [], "--embeddings")
    parts = ["clef", "probe", "--cohort", str(cohort), "--out", str(out)]
    if checkpoint is not None:
        parts += ["--checkpoint", str(checkpoint)]
    parts += ["--baselines", ",".join(names)]
    for k, v in pairs.items():
        parts += ["--baseline-checkpoints", f"{k}={v}"]
    for k, v in stores.items():
        parts += ["--embeddings", f"{k}={v}"]
    parts += ["--n-boot", str(n_boot), "--seed", str(seed), "--train-site", train_site,
              "--min-pos-train", str(min_pos_train), "--min-pos-test", str(min_pos_test)]
    if not zeroshot:
        parts.append("--no-zeroshot")
    if compare_to:
        parts += ["--compare-to", str(compare_to)]
    if append:
        parts += ["--append", str(append)]
    command = " ".join(shlex.quote(a) for a in parts)
    with exits_on(ClefError, FileNotFoundError, ValueError):
        res = run_probe(cohort, checkpoint, out, baseline_checkpoints=pairs, embeddings=stores,
                        config=cfg, cache_dir=cache,
                        progress=not quiet, command=command)
    if not quiet:
        typer.echo(res["summary"].table.to_string(float_format=lambda v: f"{v:.3f}"))
        for t in res["targets"].itertuples():
            typer.echo(f"  [{t.status}] {t.target}: {t.value:.3f} (target {t.threshold})")


def register(app: typer.Typer) -> None:
    """Add ``clef probe`` to the CLI."""
    app.command("probe")(probe)
