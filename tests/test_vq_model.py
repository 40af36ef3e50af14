"""A CLEF model on VQ codes (issue 15.2): code-embedding input, masked-code stage 1, round trips.

The VQ tokenizers here are untrained (codebook initialised from the data, random MLP encoder):
enough for deterministic codes that carry the fabricated cohort's per-concept pattern.
"""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_model import random_tokens, tiny_config
from test_train import _log, fake  # noqa: F401 - the fabricated cohort fixture of test_train
from typer.testing import CliRunner

from clef.cli import app
from clef.model import CLEFModel, ModelConfig
from clef.tokenizer import TokenCache
from clef.tokenizer.vq import VQConfig, VQTokenizerModel, save_vq
from clef.tokens import Tokens
from clef.train import TrainConfig
from clef.train.objective import MaskedCodeLoss, PretrainObjective, set_trainable

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_vq(folder, mc: ModelConfig, values, region_idx, band_idx, n_codes: int = 16):
    """Save an untrained VQ tokenizer for ``mc``'s grid, its codebook drawn from these patches."""
    e = mc.encoder
    torch.manual_seed(7)
    vq = VQTokenizerModel(VQConfig(patch_dim=e.patch_dim, n_regions=e.n_regions,
                                   n_bands=e.n_bands, hidden=16, code_dim=8,
                                   codebook_size=n_codes, restart_after=0)).train()
    with torch.no_grad():
        for _ in range(3):  # data-initialised codebook, then EMA steps towards the clusters
            vq(values, region_idx, band_idx)
    save_vq(vq, folder, mc.tokenizer_config().to_dict())
    return folder


@pytest.fixture(scope="module")
def vq_dir(tmp_path_factory):
    mc = tiny_config()
    tok = random_tokens([6, 6, 6], mc, seed=5)
    m = tok.mask
    return make_vq(tmp_path_factory.mktemp("vq") / "vq", mc, tok.values[m], tok.region_idx[m],
                   tok.band_idx[m])


def vq_model(vq_dir, **over) -> CLEFModel:
    torch.manual_seed(0)
    return CLEFModel(tiny_config(vq_tokenizer=str(vq_dir), token_input="vq", **over)).eval()


def _pad_cat(a: Tokens, b: Tokens) -> Tokens:
    n = max(a.n_tokens, b.n_tokens)

    def pad(x):
        extra = n - x.shape[1]
        return F.pad(x, (0, 0, 0, extra)) if x.dim() == 3 else F.pad(x, (0, extra))

    return Tokens(*(torch.cat([pad(x), pad(y)]) for x, y in (
        (a.values, b.values), (a.time_idx, b.time_idx), (a.region_idx, b.region_idx),
        (a.band_idx, b.band_idx), (a.mask, b.mask))), time_patch_s=a.time_patch_s)


def test_default_config_and_model_carry_no_vq_parts():
    mc = tiny_config()
    assert not {"token_input", "vq_tokenizer", "vq", "code_init"} & set(mc.to_dict())
    names = [n for n, _ in CLEFModel(mc).named_parameters()]
    assert "eeg.embed.proj.weight" in names
    assert not [n for n in names if ".vq." in n or "embed.code" in n or "code_head" in n]


def test_vq_input_encodes_and_is_padding_invariant(vq_dir):
    m = vq_model(vq_dir)
    names = [n for n, _ in m.named_parameters()]
    assert "eeg.embed.code.weight" in names and "eeg.embed.proj.weight" not in names
    assert m.config.vq["codebook_size"] == 16 and m.config.to_dict()["token_input"] == "vq"
    short, long_ = random_tokens([3], m.config, 1), random_tokens([7], m.config, 2)
    both = _pad_cat(short, long_)
    with torch.no_grad():
        alone, s_alone = m.encode_eeg(short, return_states=True)
        batched, s_b = m.encode_eeg(both, return_states=True)
        codes = m.with_codes(both).codes
    assert alone.shape == (1, 16)
    assert torch.allclose(alone[0], batched[0], atol=1e-5)
    assert torch.allclose(s_alone[0, :short.n_tokens], s_b[0, :short.n_tokens], atol=1e-5)
    assert torch.allclose(m.encode_eeg(long_)[0], batched[1], atol=1e-5)
    assert int(codes[0, short.n_tokens:].abs().sum()) == 0  # padding gets code 0
    assert len(codes[both.mask].unique()) > 3  # the codes differ between patches
    # tokens that already carry their codes (e.g. VQTokenizer output) give the same embedding
    carried = Tokens(torch.zeros(1, short.n_tokens, 8), short.time_idx, short.region_idx,
                     short.band_idx, short.mask, 4.0, codes[:1, :short.n_tokens])
    assert torch.allclose(m.encode_eeg(carried), alone, atol=1e-6)
    bad = Tokens(carried.values, carried.time_idx, carried.region_idx, carried.band_idx,
                 carried.mask, 4.0, torch.full_like(carried.codes, 16))
    with pytest.raises(ValueError, match="codebook"):
        m.encode_eeg(bad)


def test_code_embedding_starts_from_the_codebook(vq_dir):
    m = vq_model(vq_dir)
    w = m.eeg.embed.code.weight.detach()
    cb = m.eeg.embed.vq.quantizer.codebook
    # a rotation of the standardized codebook: pairwise distances keep their order
    dw, dc = torch.cdist(w, w).flatten(), torch.cdist(cb, cb).flatten()
    assert float(torch.corrcoef(torch.stack([dw, dc]))[0, 1]) > 0.99
    assert abs(float(w.std()) - 0.5) < 1e-3
    r = vq_model(vq_dir, code_init="random").eeg.embed.code.weight.detach()
    assert float(r.std()) < 0.05


def test_masked_code_loss_matches_a_hand_computed_value():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 3.0, 0.0]]])  # (1, 3, 3)
    codes = torch.tensor([[0, 2, 1]])
    masked = torch.tensor([[True, True, False]])

    def ce(z, k):
        return -(z[k] - math.log(sum(math.exp(v) for v in z)))

    want = (ce([2.0, 0.0, -1.0], 0) + ce([0.5, 0.5, 0.0], 2)) / 2
    assert float(MaskedCodeLoss()(logits, codes, masked)) == pytest.approx(want, rel=1e-6)


def test_objective_codes_target_is_cross_entropy_on_hidden_tokens(vq_dir):
    m = vq_model(vq_dir)
    tok = random_tokens([4, 2], m.config, 3)
    noise = torch.rand(tok.mask.shape, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(cohort="c", out="o", recon_target="codes", mask_ratio=0.5)
    batch = type("B", (), {"tokens": tok, "noise": noise})()
    loss = PretrainObjective(m, cfg).recon_loss(batch).detach()
    with torch.no_grad():
        logits, codes, masked = m.predict_codes(tok, noise, 0.5)
    assert codes.shape == tok.mask.shape and masked.sum() == round(0.5 * 40) + round(0.5 * 20)
    lp = torch.log_softmax(logits, -1)
    hand = [-float(lp[b, i, codes[b, i]]) for b, i in masked.nonzero().tolist()]
    assert float(loss) == pytest.approx(float(np.mean(hand)), rel=1e-5)
    assert float(loss) > 0.5 * math.log(16)  # an untrained head is near chance
    with pytest.raises(ValueError, match="no VQ tokenizer"):
        PretrainObjective(CLEFModel(tiny_config()), cfg)


def test_vq_weights_are_never_trained(vq_dir):
    m = vq_model(vq_dir)
    for stage, target in (("recon", "codes"), ("recon", "patches"), ("align", "codes")):
        on = set_trainable(m, stage, TrainConfig(cohort="c", out="o", recon_target=target))
        assert not [n for n in on if n.startswith("eeg.embed.vq.")]
        assert ("decoder.code_head.weight" in on) == (target == "codes")  # stage 2 keeps it
        assert ("decoder.head.weight" in on) == (target == "patches")
    assert "eeg.embed.code.weight" in on


def test_save_load_round_trip_without_the_vq_folder(vq_dir, tmp_path):
    own = shutil.copytree(vq_dir, tmp_path / "vq")
    m = vq_model(own)
    tok = random_tokens([5, 3], m.config, 4)
    with torch.no_grad():
        z, st = m.encode_eeg(tok, return_states=True)
    m.save_pretrained(tmp_path / "ck")
    shutil.rmtree(own)  # the checkpoint holds the VQ weights itself
    back = CLEFModel.from_pretrained(tmp_path / "ck")
    assert back.config.token_input == "vq" and back.config.vq == m.config.vq
    with torch.no_grad():
        z2, st2 = back.encode_eeg(tok, return_states=True)
    assert torch.equal(z, z2) and torch.equal(st, st2)
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["vq"]["codebook_size"] == 16
    with pytest.raises(RuntimeError, match="never loaded"):  # fresh model, folder gone
        CLEFModel(back.config).encode_eeg(tok)


def test_pretrain_codes_objective_lowers_the_loss(fake, tmp_path):  # noqa: F811
    cohort, cfg_path, cache = fake
    mc = ModelConfig.load(cfg_path).resolve()
    toks = TokenCache(cache / "tokens", mc.tokenizer_config())
    parts = [toks.get(f"s{i:03d}") for i in range(20)]
    vq = make_vq(tmp_path / "vq", mc, *(torch.cat([getattr(t, k)[0] for t in parts])
                                         for k in ("values", "region_idx", "band_idx")))
    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "pretrain", "--cohort", str(cohort), "--config", str(cfg_path), "--stage", "recon",
        "--steps", "30", "--batch-size", "8", "--lr", "3e-3", "--out", str(out), "--cache-dir",
        str(cache), "--eval-sessions", "4", "--log-every", "1", "--ckpt-every", "30", "--quiet",
        "--recon-target", "codes", "--vq-tokenizer", str(vq)])
    assert res.exit_code == 0, res.output
    loss = [x["loss"] for x in _log(out / "train_log.jsonl")]
    assert len(loss) == 30 and loss[0] > 1.5  # ~ln(16) = 2.77 at the start
    assert np.mean(loss[-5:]) < 0.9 * np.mean(loss[:5]), loss  # seen: 2.67 -> 2.14
    assert np.mean(loss[-5:]) < math.log(16) - 0.4, loss
    model = CLEFModel.from_pretrained(out)
    assert model.config.token_input == "vq" and model.config.vq["codebook_size"] == 16
    card = (out / "MODEL_CARD.md").read_text()
    assert "--recon-target codes" in card
    ev = json.loads((out / "metrics.json").read_text())["eval"]
    assert "eval_masked_code_ce" in ev and "eval_recon_mse" not in ev  # named for what it is
