"""`clef probe` end to end on a small cohort with planted signal and a tiny random model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clef.channels import STANDARD_CHANNELS
from clef.cli import app
from clef.cohort import Cohort
from clef.cohort_build import write_cohort
from clef.errors import TooShort
from clef.session import Session

SFREQ = 200.0
SECONDS = 30


def _tiny_model(eeg_pool: str | None = None):
    from clef.model import CLEFModel, ModelConfig

    cfg = ModelConfig.load("clef-tiny")
    cfg.eeg_pool = eeg_pool or cfg.eeg_pool
    cfg.text.backbone = "hashing"  # no sentence-transformer load in a fast test
    cfg.encoder.d_model, cfg.encoder.n_layers, cfg.encoder.n_heads = 32, 1, 2
    cfg.decoder.d_model, cfg.decoder.n_heads = 32, 2
    cfg.embed_dim = 16
    return CLEFModel(cfg)


def _make_cohort(root, n_patients=60, seed=0):
    rng = np.random.default_rng(seed)
    rows, tasks, oracle = [], [], []
    for p in range(n_patients):
        site = "A" if p % 3 else "B"
        split = "test" if p % 2 == 0 else "train"
        for k in range(1 + (p // 2) % 2):
            sid = f"{site}{p:03d}_{k}"
            beta = int((p // 2 + k) % 2 == 0)  # half the sessions, on every side
            rows.append({"session_id": sid, "patient_id": f"P{p:03d}", "site": site, "path": None,
                         "duration_s": float(SECONDS), "sfreq": SFREQ, "split": split,
                         "report": "Excess beta activity." if beta else "Normal record."})
            tasks += [(sid, "excess_beta", "finding", False, "excess_beta", beta),
                      (sid, "coin", "phenotype", False, None, int(rng.random() < 0.5)),
                      (sid, "rare", "medication", False, None, int(p < 2 and k == 0)),
                      (sid, "female", "demographic", False, "female", int(rng.random() < 0.5))]
            if beta:
                oracle.append({"session_id": sid, "concept": "excess_beta", "onset_s": 0.0,
                               "duration_s": float(SECONDS)})
    sessions = pd.DataFrame(rows)
    tasks = pd.DataFrame(tasks, columns=["session_id", "task", "category", "held_out", "concept",
                                         "label"]).astype({"label": "int8"})
    write_cohort(root, sessions, tasks, {"kind": "real", "seed": None, "created_by": "test"},
                 oracle_df=pd.DataFrame(oracle))
    return sessions, tasks


@pytest.fixture()
def planted(tmp_path, monkeypatch):
    """A cohort whose sessions are made in memory: 20 Hz beta for 'excess_beta' positives."""
    root = tmp_path / "cohort"
    _sessions, tasks = _make_cohort(root)
    beta = tasks[tasks.task == "excess_beta"].set_index("session_id")["label"]
    calls = []

    def fake_session(self, session_id, *, sfreq=200.0, montage="average", **options):
        calls.append(session_id)
        if session_id == "A002_1":
            raise TooShort(session_id, "only 2 s of signal", "drop the session")
        rng = np.random.default_rng(int(session_id[1:4]) * 10 + int(session_id[-1]))
        seconds = 10 if session_id == "A007_1" else SECONDS  # too short for the tokenizer
        t = np.arange(int(seconds * sfreq)) / sfreq
        x = rng.standard_normal((19, t.size)) * 10e-6
        if beta[session_id]:
            x += 8e-6 * np.sin(2 * np.pi * 20.0 * t + rng.random(19)[:, None] * 6.28)
        return Session(x.astype(np.float32), sfreq, list(STANDARD_CHANNELS),
                       {"session_id": session_id})

    monkeypatch.setattr(Cohort, "session", fake_session)
    model = _tiny_model()
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    return root, ckpt, calls


def test_shared_tokenization_matches_embed_sessions():
    """Models sharing a tokenizer are fed one tokenization; embeddings equal embed_sessions'."""
    from clef.embedding import embed
    from clef.probe.representations import _embed_group, random_encoder

    model = _tiny_model().eval()
    other = random_encoder(model, seed=3).eval()
    rng = np.random.default_rng(0)
    sessions = [Session((rng.standard_normal((19, int(n * SFREQ))) * 1e-5).astype(np.float32),
                        SFREQ, list(STANDARD_CHANNELS)) for n in (30, 41, 10, 35)]
    failed = {}
    got = _embed_group({"a": model, "b": other}, sessions, ["s0", "s1", "s2", "s3"], 2, failed)
    assert list(failed) == ["s2"]  # 10 s is shorter than one token span: skipped, reported
    ok = [0, 1, 3]
    for name, m in (("a", model), ("b", other)):
        ref = embed(m, [sessions[i] for i in ok], batch_size=4)
        np.testing.assert_allclose(np.stack([got[name][i] for i in ok]), ref, atol=1e-5)
    assert not np.allclose(got["a"][0], got["b"][0])


@pytest.mark.slow
def test_clef_probe_end_to_end(planted, tmp_path):
    root, ckpt, calls = planted
    out = tmp_path / "out"
    args = ["probe", "--cohort", str(root), "--checkpoint", str(ckpt), "--out", str(out),
            "--n-boot", "20", "--min-pos-train", "5", "--min-pos-test", "3", "--quiet"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output + repr(r.exception)
    res = pd.read_csv(out / "results.csv")
    assert set(res["representation"]) == {"clef", "band-power", "random", "oracle"}
    assert set(res["test_set"]) == {"test", "B"}
    ok = res[res.status == "ok"].set_index(["representation", "task", "test_set"])
    assert ok.loc[("band-power", "excess_beta", "test"), "auroc"] > 0.9
    assert ok.loc[("oracle", "excess_beta", "test"), "auroc"] == 1.0
    assert ok.loc[("band-power", "excess_beta", "B"), "auroc"] > 0.9
    assert abs(ok.loc[("band-power", "coin", "test"), "auroc"] - 0.5) < 0.3
    rare = res[(res.task == "rare")]
    assert (rare.status == "skipped").all() and rare.reason.str.contains("positive").all()
    # patient-level split: no patient of a test set appears in training (checked in the library)
    md = (out / "summary.md").read_text()
    for s in ("## Targets", "reconstruction-only", "not measured", "External site B",
              "Zero-shot", "Skipped tasks", "A002_1", "A007_1", "clef probe"):
        assert s in md, s
    t = pd.read_csv(out / "targets.csv")
    assert len(t) == 12 and set(t.status) <= {"met", "missed", "not measured"}
    assert t.set_index("target").loc["CLEF mean AUROC - band power", "status"] != "not measured"
    assert {"zero-shot mean AUROC, unseen phrasings",
            "lowest zero-shot AUROC, concepts named in training reports"} <= set(t.target)
    assert (out / "text_side.csv").exists() and "Text-side diagnostic" in md
    assert t.set_index("target").loc["CLEF mean AUROC - reconstruction-only",
                                     "status"] == "not measured"
    zs = pd.read_csv(out / "zeroshot.csv")
    assert list(zs.task) == ["excess_beta"] and zs.status.iloc[0] == "ok"
    assert (out / "category_bars.png").stat().st_size > 1000
    assert (out / "task_scatter.png").stat().st_size > 1000
    # a rerun resumes from the feature cache: no session is loaded again
    n_calls = len(calls)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert len(calls) == n_calls  # the failed session is remembered in features/failed.json
    # --compare-to prints an earlier run's semantic numbers next to this run's
    out2 = tmp_path / "out2"
    extra = tmp_path / "ablation.md"
    extra.write_text("# An ablation\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    r = CliRunner().invoke(app, [*args[:6], str(out2), *args[7:], "--compare-to", str(out),
                                 "--append", str(extra)])
    assert r.exit_code == 0, r.output + repr(r.exception)
    md2 = (out2 / "summary.md").read_text()
    assert "\n## An ablation\n" in md2 and "| 1 | 2 |" in md2
    assert f"`before`: `{out}`" in md2 and "tower before (report)" in md2
    row = next(line for line in md2.splitlines() if line.startswith("| excess_beta | named"))
    assert row.rstrip(" |").endswith("0.000")  # same model and data: change 0
    r = CliRunner().invoke(app, [*args[:6], str(out2), *args[7:], "--compare-to",
                                 str(tmp_path / "nowhere")])
    assert r.exit_code == 1 and "no such folder" in r.output


@pytest.mark.slow
def test_run_probe_on_generated_synthetic_cohort(tmp_path):
    """The real path: clef.synth cohort (signals regenerated from the seed) -> clef.io ->
    tokenizer -> tiny random model, band power and oracle -> probes, zero-shot, report."""
    synth = pytest.importorskip("clef.synth")
    from clef.probe.linear import ProbeConfig
    from clef.probe.pipeline import ProbeRunConfig, run_probe

    root = synth.generate_cohort(tmp_path / "synth", 60, seed=1, minutes=0.5, signals="none",
                                 progress=False)
    ckpt = tmp_path / "ckpt"
    _tiny_model().save_pretrained(ckpt)
    cfg = ProbeRunConfig(baselines=("band-power", "random", "oracle"), n_boot=10)
    cfg.battery.min_pos_train, cfg.battery.min_pos_test = 4, 2
    cfg.battery.probe = ProbeConfig(Cs=(0.1, 1.0), inner_folds=2)
    cfg.representation.n_jobs, cfg.representation.chunk = 2, 16  # worker processes load signals
    res = run_probe(root, ckpt, tmp_path / "out", config=cfg, progress=False,
                    cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "band-power.npy").is_file()
    r = res["results"]
    assert set(r["representation"]) == {"clef", "band-power", "random", "oracle"}
    ok = r[(r.status == "ok") & (r.test_set == "test")]
    assert ok["task"].nunique() >= 5
    assert set(ok["category"]) >= {"finding", "demographic"}
    orc = ok[(ok.representation == "oracle") & (ok.category == "finding")]
    assert len(orc) and orc["auroc"].mean() > 0.9  # true findings predict the finding tasks
    assert res["summary"].n_tasks == ok.groupby("task").size().eq(4).sum()
    assert (tmp_path / "out" / "summary.md").read_text().count("| clef |") >= 1
    assert res["zeroshot"] is not None and len(res["zeroshot"])


def test_store_features_reads_clef_embed_output(tmp_path):
    store = pytest.importorskip("clef.store")
    from clef.probe.representations import store_features

    emb = np.eye(3, 4, dtype=np.float32)
    store.EmbeddingStore.write(tmp_path / "s", emb, pd.DataFrame({"session_id": ["a", "b", "c"]}),
                               model_info={"model_sha256": "0" * 64, "model_name": "t",
                                           "tokenizer_sha256": "1" * 64})
    X, missing = store_features(tmp_path / "s", ["c", "a", "z"])
    assert list(X.index) == ["c", "a"] and list(missing) == ["z"]
    np.testing.assert_allclose(X.to_numpy(), emb[[2, 0]])
