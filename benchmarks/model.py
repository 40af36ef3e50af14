"""Model speed: CLEF session encoding vs short-window foundation-model stand-ins, same session.

One 20-minute, 19-channel, 200 Hz random session (content does not change the cost). Rows:
clef-tiny tokenize + encode (target < 0.3 s on CPU); BIOT and LaBraM-Base stand-ins
(``benchmarks/reference_models.py``, random weights, published shapes) over the same session cut
into their 10-s windows (120 windows x 19 channels). Best of ``--repeats`` after one warm-up.
On a CUDA GPU also: clef-base sessions/s in bf16 (target >= 1,000) and training tokens/s.

Usage: ``python benchmarks/model.py [--out benchmarks/results/model.md] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import BIOTStandIn, LaBraMStandIn, n_params

from clef.model import CLEFModel
from clef.tokens import Tokens

MINUTES, N_CH, SFREQ, WINDOW_S = 20, 19, 200, 10


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved(fns: list, repeats: int) -> list[float]:
    """Best time of each fn, timing them round-robin so they all see the same machine load."""
    for fn in fns:
        fn()  # warm-up
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def windows(x: np.ndarray) -> torch.Tensor:
    n = int(WINDOW_S * SFREQ)
    w = x.shape[1] // n
    # (channels, samples) -> (windows, channels, window samples)
    return torch.from_numpy(x[:, : w * n].reshape(N_CH, w, n).transpose(1, 0, 2).copy())


@torch.inference_mode()
def cpu_rows(x: np.ndarray, repeats: int) -> list[tuple]:
    tiny, base = CLEFModel("clef-tiny").eval(), CLEFModel("clef-base").eval()
    tok = tiny.tokenizer
    tokens = tok.tokenize(x)
    biot, labram = BIOTStandIn().eval(), LaBraMStandIn().eval()
    wins = windows(x)

    def batched(model):
        return lambda: [model(wins[i:i + 32]) for i in range(0, len(wins), 32)]

    fns = [lambda: tiny.encode_eeg(tok.tokenize(x)), lambda: tok.tokenize(x),
           lambda: tiny.encode_eeg(tokens), batched(biot), batched(labram),
           lambda: base.encode_eeg(base.tokenizer.tokenize(x))]
    t = interleaved(fns, repeats)
    n_base = base.tokenizer.n_tokens(MINUTES * 60)
    return [("clef-tiny: tokenize + encode", tiny.num_parameters("eeg"),
             f"1 x {tokens.n_tokens} tokens", t[0]),
            ("  of which tokenize", 0, "", t[1]),
            ("  of which encode", 0, "", t[2]),
            ("BIOT stand-in (4 layers, d=256)", n_params(biot),
             f"{len(wins)} windows x (19 ch x 21 STFT frames)", t[3]),
            ("LaBraM-Base stand-in (12 layers, d=200)", n_params(labram),
             f"{len(wins)} windows x (19 ch x 10 patches + CLS)", t[4]),
            ("clef-base: tokenize + encode (CPU)", base.num_parameters("eeg"),
             f"1 x {n_base} tokens", t[5])]


def gpu_lines(repeats: int) -> list[str]:
    if not torch.cuda.is_available():
        return ["| clef-base sessions/s, bf16 inference (target >= 1,000) | not measured (no GPU) |",
                ("| clef-base training tokens/s, bf16 (align stage, fwd+bwd) | "
                 "not measured (no GPU) |")]
    dev = torch.device("cuda")
    model = CLEFModel("clef-base").to(dev)
    cfg = model.config
    B = 256
    n = model.tokenizer.n_tokens(MINUTES * 60)
    e = cfg.encoder
    per_t = e.n_regions * e.n_bands
    t_idx = torch.arange(n, device=dev) // per_t
    r_idx = (torch.arange(n, device=dev) // e.n_bands) % e.n_regions
    b_idx = torch.arange(n, device=dev) % e.n_bands
    tokens = Tokens(torch.randn(B, n, e.patch_dim, device=dev), t_idx.expand(B, n),
                    r_idx.expand(B, n), b_idx.expand(B, n),
                    torch.ones(B, n, dtype=torch.bool, device=dev), 12.0)
    model.eval()

    @torch.inference_mode()
    def infer():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return model.encode_eeg(tokens)

    t_inf = best_of(infer, repeats)
    model.train()
    Bt = 32
    sub = tokens[slice(0, Bt)]
    text = torch.randn(Bt, 384, device=dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            z = model.encode_eeg(sub)
            t = torch.nn.functional.normalize(model.text(text), dim=-1)
            logits = model.logit_scale.exp() * z @ t.t()
            loss = torch.nn.functional.cross_entropy(logits.float(), torch.arange(Bt, device=dev))
        opt.zero_grad()
        loss.backward()
        opt.step()

    t_train = best_of(train_step, repeats)
    name = torch.cuda.get_device_name(0)
    return [(f"| clef-base sessions/s, bf16 inference, batch {B} x {n} tokens ({name}) | "
             f"{B / t_inf:,.0f} |"),
            (f"| clef-base training tokens/s, bf16, batch {Bt} (fwd+bwd+AdamW) | "
             f"{Bt * n / t_train:,.0f} |")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "model.md"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((N_CH, MINUTES * 60 * SFREQ)) * 20e-6).astype(np.float32)
    rows = cpu_rows(x, args.repeats)
    ref = rows[0][3]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cmd = " ".join(["python", "benchmarks/model.py", *sys.argv[1:]])
    lines = ["# Model speed: one 20-minute session, CPU", "", f"Command: `{cmd}`", "",
             (f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average at the "
              f"end {load:.1f} (other jobs shared the cores: timings are noisy; rows timed round-robin, best of "
              f"{args.repeats}, so ratios compare like with like)."), "",
             ("BIOT and LaBraM rows are **stand-ins** written from the papers' published shapes "
              "(random weights; `benchmarks/reference_models.py`), run over the same session cut "
              "into 10-s windows of 19 channels."), "",
             "| model | EEG encoder params | input | seconds / session | x clef-tiny |",
             "|---|---:|---|---:|---:|"]
    for name, params, inp, t in rows:
        ratio = "" if name.startswith("  ") else f"{t / ref:.1f}x"
        lines.append(f"| {name} | {params:,} | {inp} | {t:.3f} | {ratio} |" if params else
                     f"| {name} | | {inp} | {t:.3f} | |")
    target = "met" if ref < 0.3 else "MISSED"
    lines += ["", (f"Target: clef-tiny tokenize + encode < 0.3 s on CPU: **{target}** "
                   f"({ref:.3f} s)."), "", "## GPU", "", "| measure | value |", "|---|---:|"]
    lines += gpu_lines(args.repeats)
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
