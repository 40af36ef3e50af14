"""`clef tokenizer train` and `clef tokenizer inspect`: the learned (VQ) tokenizer over multitaper
patches."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

tokenizer_app = typer.Typer(help="The learned (VQ) spectrogram tokenizer: train and inspect.",
                            no_args_is_help=True)

# Both subcommands read the linear tokens of a cohort's sessions from a token cache (_sessions picks
# the sessions: one split, at most --limit of them).
CacheDir = Annotated[Path, typer.Option(help="Token cache root holding the linear tokens.")]
Limit = Annotated[int | None, typer.Option(help="At most this many sessions.")]


def _sessions(cohort: Path, split: str, limit: int | None) -> list[str]:
    from clef.cohort import Cohort

    s = Cohort.load(cohort).sessions
    if split != "all" and "split" in s.columns:
        s = s[s["split"].astype(str) == split]
    ids = sorted(s["session_id"].astype(str))
    return ids[:limit] if limit else ids


@tokenizer_app.command("train")
def train(
    cohort: Annotated[Path, typer.Option(help="Cohort folder (its sessions are read from the cache).")],
    cache_dir: CacheDir,
    out: Annotated[Path, typer.Option(help="Output folder (safetensors + JSON config).")],
    config: Annotated[str, typer.Option(help="Multitaper preset the cache was filled with.")] = "tiny",
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 2000,
    batch_size: Annotated[int, typer.Option(help="Patches per step.")] = 1024,
    codebook_size: Annotated[int, typer.Option(help="Codes in the codebook.")] = 512,
    code_dim: Annotated[int, typer.Option(help="Latent size per token.")] = 32,
    per_session: Annotated[int, typer.Option(help="Patches sampled per session.")] = 48,
    split: Annotated[str, typer.Option(help="Sessions used: train, test or all.")] = "train",
    limit: Limit = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-3,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 1,
) -> None:
    """Train a VQ tokenizer on the cached linear patches of a cohort (progress bar, then stats)."""
    import torch

    from clef.tokenizer import TokenCache, TokenizerConfig
    from clef.tokenizer.vq import VQConfig, save_vq
    from clef.tokenizer.vq_train import VQTrainConfig, evaluate_vq, sample_patches, train_vq

    torch.set_num_threads(threads)
    presets = {"tiny": TokenizerConfig.tiny, "base": TokenizerConfig.base}
    if config not in presets:
        typer.echo(f"error: --config {config!r}; use one of {sorted(presets)}", err=True)
        raise typer.Exit(code=1)
    tcfg = presets[config]()
    ids = _sessions(cohort, split, limit)
    try:
        patches = sample_patches(TokenCache(cache_dir, tcfg), ids, per_session, seed, progress=True)
    except KeyError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=1) from None
    vq = VQConfig(patch_dim=int(patches.values.shape[1]), codebook_size=codebook_size,
                  code_dim=code_dim, n_regions=int(patches.valid.shape[0]),
                  n_bands=int(patches.valid.shape[1]))
    model, log = train_vq(patches, VQTrainConfig(steps=steps, batch_size=batch_size, lr=lr,
                                                 seed=seed, vq=vq))
    stats = {k: v for k, v in evaluate_vq(model, patches).items() if k != "codes"}
    info = {"sessions": len(ids), "patches": len(patches), "steps": steps,
            "cpu_s": round(log[-1]["cpu_s"], 1) if log else 0.0, "cohort": str(cohort),
            "train_stats": stats}
    save_vq(model, out, tcfg.to_dict(), info)
    typer.echo(f"wrote {out}: " + json.dumps({k: round(v, 4) for k, v in stats.items()}))


@tokenizer_app.command("inspect")
def inspect(
    tokenizer: Annotated[Path, typer.Option(help="Folder written by `clef tokenizer train`.")],
    cohort: Annotated[Path, typer.Option(help="Cohort folder (labels for the code table).")],
    cache_dir: CacheDir,
    split: Annotated[str, typer.Option(help="Sessions: train, test or all.")] = "test",
    limit: Limit = None,
    top: Annotated[int, typer.Option(help="Codes listed per finding.")] = 3,
) -> None:
    """Codebook usage/perplexity, reconstruction error, and the codes frequent in each finding."""
    from clef.cohort import Cohort
    from clef.tokenizer import TokenCache, TokenizerConfig
    from clef.tokenizer.vq import load_vq
    from clef.tokenizer.vq_train import code_findings, code_histograms, evaluate_vq, sample_patches

    model, meta = load_vq(tokenizer)
    tcfg = TokenizerConfig.from_dict(meta["tokenizer"])
    ids = _sessions(cohort, split, limit)
    patches = sample_patches(TokenCache(cache_dir, tcfg), ids, per_session=None, progress=True)
    stats = evaluate_vq(model, patches)
    k = model.quantizer.n_codes
    typer.echo(f"{len(ids)} sessions, {len(patches)} tokens: recon MSE {stats['recon_mse']:.4f} "
               f"(R^2 {stats['r2']:.3f}), codebook usage {stats['usage']:.1%} of {k}, "
               f"perplexity {stats['perplexity']:.1f}")
    c = Cohort.load(cohort)
    findings = c.task_info().query("category == 'finding'")["task"]
    labels = c.labels()[[t for t in findings if t in c.labels().columns]]
    hist = code_histograms(stats["codes"], patches.session, len(ids), k)
    table = code_findings(hist, ids, labels, top=top)
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def register(app: typer.Typer) -> None:
    """Add ``clef tokenizer`` to the CLI."""
    app.add_typer(tokenizer_app, name="tokenizer")
