"""The learned (VQ) tokenizer: quantiser gradient, codebook use, round trip, save/load, plug-in."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from clef.tokenizer import MultitaperTokenizer, TokenizerConfig, VQTokenizer, make_tokenizer
from clef.tokenizer.patching import PatchLayout
from clef.tokenizer.vq import VectorQuantizer, VQConfig, VQTokenizerModel, load_vq, save_vq
from clef.tokenizer.vq_train import (
    VQTrainConfig,
    evaluate_vq,
    patches_of,
    perplexity,
    train_vq,
)

TINY = TokenizerConfig.tiny()


def _toy_tokens(n_sessions=4, seconds=96, seed=0):
    """Linear tokens of random-walk sessions with a few spectral 'types' (clef-tiny grid)."""
    rng = np.random.default_rng(seed)
    tok = MultitaperTokenizer(TINY)
    t = np.arange(int(seconds * TINY.sfreq)) / TINY.sfreq
    out = []
    for i in range(n_sessions):
        f = [2.0, 6.0, 10.0, 20.0][i % 4]
        x = 20e-6 * np.sin(2 * np.pi * f * t)[None] + 2e-6 * rng.standard_normal((19, t.size))
        out.append(tok.tokenize(x))
    return out


@pytest.fixture(scope="module")
def toy():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, most of all on a shared machine
    try:
        yield _train_toy()
    finally:
        torch.set_num_threads(threads)


def _train_toy():
    toks = _toy_tokens()
    patches = patches_of(toks, [f"s{i}" for i in range(len(toks))], PatchLayout.from_config(TINY))
    cfg = VQTrainConfig(steps=300, batch_size=64, lr=1e-2,
                        vq=VQConfig(patch_dim=patches.values.shape[1], hidden=32, code_dim=8,
                                    codebook_size=16, restart_after=10,
                                    ema_decay=0.8))
    model, log = train_vq(patches, cfg, progress=False)
    return toks, patches, model, log


def test_straight_through_gradient_reaches_the_encoder_output():
    q = VectorQuantizer(8, 4).train()
    z = torch.randn(32, 4, requires_grad=True)
    q(z.detach())  # initialise the codebook, then freeze it (eval: no EMA update)
    out, codes, commit = q.eval()(z)
    # forward value is the code vector; backward is the identity
    assert torch.allclose(out, q.lookup(codes), atol=1e-6)
    (out * torch.arange(4.0)).sum().backward()
    assert torch.allclose(z.grad, torch.arange(4.0).expand(32, 4))
    assert commit.item() >= 0


def test_dead_codes_are_restarted():
    q = VectorQuantizer(16, 2, decay=0.9, restart_after=2).train()
    z = torch.randn(64, 2)
    q(z)  # initialises from the batch
    q.codebook[3] = 1e6  # a code nothing will ever pick
    q.ema_sum[3] = 1e6
    for _ in range(3):
        q(z)
    assert q.codebook[3].abs().max() < 1e3


def test_training_reduces_error_and_uses_the_codebook(toy):
    _, patches, model, log = toy
    assert log[-1]["recon"] < 0.5 * log[0]["recon"]
    stats = evaluate_vq(model, patches)
    assert stats["usage"] >= 0.25  # at least 4 of 16 codes in use
    assert stats["perplexity"] >= 3.0
    assert stats["r2"] > 0.4  # the round trip explains a good part of the variance


def test_encode_decode_round_trip_error_is_bounded(toy, tmp_path):
    toks, _, model, _ = toy
    save_vq(model, tmp_path / "vq", TINY.to_dict())
    vq = make_tokenizer(replace(TINY, kind="vq", vq_path=str(tmp_path / "vq")))
    assert isinstance(vq, VQTokenizer)
    lin = toks[0]
    vt = vq.quantize(lin)
    assert vt.codes.shape == lin.mask.shape and vt.values.shape[-1] == vq.patch_dim
    lin_tok = MultitaperTokenizer(TINY)
    vol, rec = lin_tok.untokenize(lin, 0), vq.untokenize(vt, 0)
    assert vol.shape == rec.shape
    real = vol != 0
    mse = float(((vol - rec)[real] ** 2).mean())
    var = float(vol[real].var())
    assert mse < 0.75 * var


def test_save_load_gives_identical_codes(toy, tmp_path):
    _toks, patches, model, _ = toy
    save_vq(model, tmp_path / "vq", TINY.to_dict(), {"note": "test"})
    again, meta = load_vq(tmp_path / "vq")
    assert meta["info"]["note"] == "test" and (tmp_path / "vq" / "vq_tokenizer.safetensors").is_file()
    v, r, b = patches.values, patches.region_idx, patches.band_idx
    assert torch.equal(model.codes(v, r, b), again.codes(v, r, b))


def test_token_count_and_config_selection(toy, tmp_path):
    _, _, model, _ = toy
    save_vq(model, tmp_path / "vq", TINY.to_dict())
    cfg = replace(TINY, kind="vq", vq_path=str(tmp_path / "vq"))
    assert make_tokenizer(cfg).n_tokens(20 * 60) <= 2048
    assert isinstance(make_tokenizer(TINY), MultitaperTokenizer)
    # linear configs keep their JSON and cache hash; vq ones differ
    assert "kind" not in TINY.to_dict() and cfg.hash() != TINY.hash()
    assert TokenizerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="vq_path"):
        replace(TINY, kind="vq")
    with pytest.raises(ValueError, match="another multitaper"):
        VQTokenizer(replace(TokenizerConfig.base(), kind="vq", vq_path=str(tmp_path / "vq")))


def test_perplexity_bounds():
    assert perplexity(torch.zeros(10, dtype=torch.int64), 4) == pytest.approx(1.0)
    assert perplexity(torch.arange(4).repeat(5), 4) == pytest.approx(4.0)


def test_model_forward_shapes():
    m = VQTokenizerModel(VQConfig(patch_dim=12, hidden=16, code_dim=4, codebook_size=8))
    out = m(torch.randn(5, 12), torch.zeros(5, dtype=torch.int64), torch.ones(5, dtype=torch.int64))
    assert out["pred"].shape == (5, 12) and out["codes"].shape == (5,)
