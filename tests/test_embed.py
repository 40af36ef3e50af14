"""`clef embed`: store contents, failures table, kill-and-resume, Dask workers, states."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from clef.cohort import Cohort
from clef.cohort_build import write_cohort
from clef.embed import EmbedConfig, embed_cohort, load_model
from clef.embedding import embed
from clef.errors import CheckpointMismatch
from clef.model import CLEFModel, ModelConfig
from clef.store import EmbeddingStore, model_fingerprint
from clef.thumbnails import THUMB_TIMES, tokens_thumbnail

REPO = Path(__file__).resolve().parents[1]
STANDARD = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5",
            "P3", "Pz", "P4", "T6", "O1", "O2"]
# small tokenizer/encoder and a hashing text tower: loads in a second, no download
TINY = {
    "name": "test-tiny", "embed_dim": 16,
    "tokenizer": {"preset": "tiny", "windows_per_patch": 2, "freq_pool": 8},
    "encoder": {"d_model": 32, "n_layers": 2, "n_heads": 2, "max_tokens": 256},
    "decoder": {"d_model": 16, "n_layers": 1, "n_heads": 2},
    "text": {"backbone": "hashing", "hash_dim": 64},
    "ehr": {"code_dim": 8, "hidden": 16},
}


def save_tiny(path, seed=0) -> Path:
    torch.manual_seed(seed)
    CLEFModel(ModelConfig.from_dict(TINY).resolve()).save_pretrained(path)
    return Path(path)


def write_edf(path, seconds, seed, sfreq=200.0, alpha=1.0):
    import mne
    from mne.export import export_raw

    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    x = rng.standard_normal((19, n)) * 10e-6
    x += alpha * 20e-6 * np.sin(2 * np.pi * rng.uniform(8, 12) * t)
    raw = mne.io.RawArray(x, mne.create_info(STANDARD, sfreq, "eeg"), verbose="error")
    export_raw(str(path), raw, fmt="edf", verbose="error")


def make_cohort(root: Path, n: int, seconds=60.0, corrupt: int | None = None) -> Path:
    """A real-kind cohort of n EDF sessions; session `corrupt` (index) is a truncated file."""
    rec = root / "recordings"
    rec.mkdir(parents=True)
    rows, tasks = [], []
    for i in range(n):
        sid = f"s{i:03d}"
        write_edf(rec / f"{sid}.edf", seconds, seed=i, alpha=0.2 + (i % 3))
        if i == corrupt:
            data = (rec / f"{sid}.edf").read_bytes()
            (rec / f"{sid}.edf").write_bytes(data[: len(data) // 3])
        rows.append({"session_id": sid, "patient_id": f"p{i // 2}", "site": "AB"[i % 2],
                     "path": f"recordings/{sid}.edf", "duration_s": seconds, "sfreq": 200.0,
                     "age": 20.0 + i, "sex": "FM"[i % 2], "setting": "outpatient",
                     "report": f"report {i}", "diagnoses": [["G40.3"], []][i % 2],
                     "medications": [[], ["lorazepam"]][i % 2], "split": "train"})
        tasks.append({"session_id": sid, "task": "sex_f", "category": "demographic",
                      "held_out": False, "concept": None, "label": int(i % 2 == 0)})
    write_cohort(root, pd.DataFrame(rows), pd.DataFrame(tasks),
                 {"kind": "real", "created_by": "test"})
    return root


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return make_cohort(tmp_path_factory.mktemp("cohort") / "c", 7, corrupt=3)


@pytest.fixture(scope="module")
def store(cohort, ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "st"
    return embed_cohort(cohort, ckpt, out, EmbedConfig(scheduler="none", shard_size=2,
                                                       progress=False))


def test_store_contents_and_failures(store, cohort, ckpt):
    store.verify()
    assert len(store) == 6 and store.dim == 16
    assert store.session_ids.tolist() == ["s000", "s001", "s002", "s004", "s005", "s006"]
    # the truncated recording is in the failures table with its error, nothing else is lost
    assert store.failures["session_id"].tolist() == ["s003"]
    assert store.failures["error_type"].iloc[0] == "UnreadableRecording"
    assert "s003.edf" in store.failures["path"].iloc[0]
    assert store.failures["message"].iloc[0]
    # metadata aligned row by row with the cohort
    c = Cohort.load(cohort)
    ref = c.sessions.set_index("session_id").loc[store.session_ids]
    assert np.allclose(store.sessions["age"], ref["age"])
    assert store.sessions["site"].tolist() == ref["site"].tolist()
    assert store.labels["sex_f"].tolist() == [1, 0, 1, 1, 0, 1]
    # manifest pins the model
    model = load_model(ckpt)
    fp = model_fingerprint(model)
    for key in ("model_sha256", "tokenizer_sha256", "model_name", "dim"):
        assert store.manifest[key] == fp[key]
    assert store.manifest["count"] == 6 and store.manifest["n_failures"] == 1
    assert not (store.path / "parts").exists()
    # embeddings equal the model's own end-to-end embedding of the same recordings
    sess = [c.session(s, sfreq=200.0) for s in store.session_ids]
    ref_vec = embed(model, sess, batch_size=3)
    np.testing.assert_allclose(store.embeddings, ref_vec, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(store.embeddings, axis=1), 1.0, atol=1e-5)
    # each session's spectrogram thumbnail, as made from its recording directly
    for sid, session in zip(store.session_ids, sess):
        got = store.thumbnail(sid)
        want = tokens_thumbnail(model.tokenizer, model.tokenizer.tokenize([session]))
        np.testing.assert_array_equal(got.image, want.image)
        assert got.span_s == want.span_s and got.image.shape == (len(got.freqs), THUMB_TIMES)


def test_verify_detects_changed_file(store, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(store.path, copy)
    emb = np.load(copy / "embeddings.npy")
    emb[0, 0] += 0.5
    np.save(copy / "embeddings.npy", emb)
    from clef.store import InvalidStore

    with pytest.raises(InvalidStore, match="sha256"):
        EmbeddingStore.open(copy, verify=True)


def test_rerun_is_a_no_op_and_other_model_refused(store, cohort, ckpt, tmp_path):
    before = (store.path / "manifest.json").read_text()
    again = embed_cohort(cohort, ckpt, store.path, EmbedConfig(scheduler="none", progress=False))
    assert (store.path / "manifest.json").read_text() == before
    assert len(again) == len(store)
    other = save_tiny(tmp_path / "other", seed=1)
    with pytest.raises(CheckpointMismatch, match="--overwrite"):
        embed_cohort(cohort, other, store.path, EmbedConfig(scheduler="none", progress=False))


@pytest.mark.slow  # three real `clef embed` processes
def test_kill_and_resume_subprocess(ckpt, store, tmp_path):
    """SIGKILL a real `clef embed` after its first committed shard; a re-run completes it with
    every session exactly once, without redoing the committed ones."""
    cohort = make_cohort(tmp_path / "c", 14, seconds=120.0, corrupt=5)
    out = tmp_path / "store"
    cmd = [sys.executable, "-m", "clef.cli", "embed", "--cohort", str(cohort), "--checkpoint",
           str(ckpt), "--out", str(out), "--scheduler", "none", "--shard-size", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = out / "parts"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if any(parts.glob("part-*.parquet")):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not (out / "manifest.json").exists()
    committed = sorted(parts.glob("part-*.parquet"))
    assert 1 <= len(committed) < 14
    n_before = sum(len(pd.read_parquet(p)) for p in committed)

    res = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    st = EmbeddingStore.open(out, verify=True)
    ids = st.session_ids.tolist() + st.failures["session_id"].tolist()
    assert sorted(ids) == [f"s{i:03d}" for i in range(14)]  # every session exactly once
    assert len(set(ids)) == len(ids) == 14
    assert st.failures["session_id"].tolist() == ["s005"]
    assert st.manifest["run"]["sessions_embedded"] == 14 - n_before  # nothing redone
    assert "clef embed" in st.manifest["created_by"]
    # same vectors as a run that was never interrupted
    ref = embed_cohort(cohort, ckpt, tmp_path / "ref", EmbedConfig(scheduler="none",
                                                                   progress=False))
    np.testing.assert_allclose(st.embeddings, ref.embeddings, atol=1e-5)


def test_states_stored(cohort, ckpt, tmp_path):
    st = embed_cohort(cohort, ckpt, tmp_path / "s", EmbedConfig(scheduler="none", states=True,
                                                                progress=False))
    w = st.states("s000")
    model = load_model(ckpt)
    patch_s = model.tokenizer.config.step_s * model.tokenizer.config.windows_per_patch
    assert w.shape[1] == 16 and abs(w.shape[0] - 60.0 / patch_s) <= 2
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-2)  # float16 storage
    assert json.loads((st.path / "manifest.json").read_text())["states"] is True


@pytest.mark.slow
def test_dask_local_cluster_matches_single_process(cohort, ckpt, store, tmp_path):
    st = embed_cohort(cohort, ckpt, tmp_path / "d", EmbedConfig(
        scheduler="local", n_workers=2, shard_size=1, progress=False))
    assert st.session_ids.tolist() == store.session_ids.tolist()
    np.testing.assert_allclose(st.embeddings, store.embeddings, atol=1e-5)
    assert st.failures["session_id"].tolist() == ["s003"]
    run = st.manifest["run"]
    assert 1 <= run["workers_seen"] <= 2
    assert run["max_model_loads_per_worker"] == 1  # 7 shards, each worker loaded the model once


def test_new_sessions_are_added_without_redoing_old_ones(ckpt, tmp_path):
    root = make_cohort(tmp_path / "big", 6, seconds=30.0)
    c = Cohort.load(root)
    first4 = c.sessions.iloc[:4].assign(path=[str(root / p) for p in c.sessions["path"][:4]])
    tasks4 = c.tasks[c.tasks["session_id"].isin(first4["session_id"])]
    write_cohort(tmp_path / "small", first4, tasks4, {"kind": "real", "created_by": "test"})
    cfg = EmbedConfig(scheduler="none", progress=False)
    first = embed_cohort(tmp_path / "small", ckpt, tmp_path / "st", cfg)
    old = np.array(first.embeddings)
    old_thumbs = {s: first.thumbnail(s).image for s in first.session_ids}
    assert len(first) == 4
    both = embed_cohort(root, ckpt, tmp_path / "st", cfg)
    assert both.session_ids.tolist() == [f"s{i:03d}" for i in range(6)]
    assert both.manifest["run"]["sessions_embedded"] == 2
    np.testing.assert_array_equal(both.embeddings[:4], old)
    for sid, image in old_thumbs.items():  # the old sessions' thumbnails are carried over
        np.testing.assert_array_equal(both.thumbnail(sid).image, image)
    assert all(both.thumbnail(s) is not None for s in both.session_ids)  # the new ones made


def test_synthetic_cohort_regenerated_on_demand(ckpt, tmp_path):
    synth = pytest.importorskip("clef.synth")
    synth.generate_cohort(tmp_path / "c", 4, seed=3, minutes=1, signals="none", progress=False)
    st = embed_cohort(tmp_path / "c", ckpt, tmp_path / "st",
                      EmbedConfig(scheduler="none", progress=False))
    c = Cohort.load(tmp_path / "c")
    assert st.session_ids.tolist() == c.sessions["session_id"].tolist() and len(st.failures) == 0
    assert st.labels is not None and st.labels.shape[1] == c.tasks["task"].nunique() + 1
    assert np.isfinite(st.embeddings).all()


def test_token_cache_reused_and_equal(ckpt, store, tmp_path):
    """Embedding through a token cache gives the same vectors, and a second run reads the cache."""
    from clef.tokenizer import TokenCache

    cohort = make_cohort(tmp_path / "c", 7, corrupt=3)  # same content as the module's cohort
    cache_root = tmp_path / "tokens"
    cfg = EmbedConfig(scheduler="none", progress=False, token_cache=str(cache_root))
    st = embed_cohort(cohort, ckpt, tmp_path / "s1", cfg)
    np.testing.assert_allclose(st.embeddings, store.embeddings, atol=1e-5)
    cache = TokenCache(cache_root, load_model(ckpt).tokenizer.config)
    assert all(sid in cache for sid in store.session_ids)  # filled; the bad recording is not
    assert len(st.failures) == len(store.failures) == 1
    # the second run must take tokens from the cache: make the recordings unreadable to prove it
    for p in (cohort / "recordings").iterdir():
        p.write_bytes(b"broken")
    st2 = embed_cohort(cohort, ckpt, tmp_path / "s2", cfg)
    np.testing.assert_allclose(st2.embeddings, store.embeddings, atol=1e-5)
    assert len(st2.failures) == 1
    for sid in store.session_ids:  # thumbnails from cached tokens equal those from the signals
        np.testing.assert_array_equal(st2.thumbnail(sid).image, store.thumbnail(sid).image)


def test_each_recording_is_read_once_per_run(cohort, ckpt, tmp_path, monkeypatch):
    """`clef embed` reads every recording file exactly once (the corrupt one included)."""
    import clef.embed.worker
    import clef.io

    reads = []
    real = clef.io.read_session

    def counting(path, *a, **k):
        reads.append(Path(path).name)
        return real(path, *a, **k)

    monkeypatch.setattr(clef.io, "read_session", counting)
    monkeypatch.setattr(clef.embed.worker, "_COHORTS", {})
    st = embed_cohort(cohort, ckpt, tmp_path / "once", EmbedConfig(scheduler="none",
                                                                  progress=False))
    assert sorted(reads) == [f"s{i:03d}.edf" for i in range(7)]
    assert len(st) == 6


def test_auto_scheduler_forks_workers_where_it_can():
    """`clef embed` defaults to 'auto': forked worker processes from 2 cores on Linux (1.3x
    read-ahead threads on 2 cores, benchmarks/results/ingest.md), else in-process."""
    from clef.embed import EmbedConfig, resolve_scheduler

    assert EmbedConfig().scheduler == "auto"
    assert resolve_scheduler("auto", cores=2, can_fork=True) == "processes"
    assert resolve_scheduler("auto", cores=16, can_fork=True) == "processes"
    assert resolve_scheduler("auto", cores=1, can_fork=True) == "none"
    assert resolve_scheduler("auto", cores=8, can_fork=False) == "none"
    assert resolve_scheduler("auto", cores=8, can_fork=True, threads_per_worker=2) == "none"
    assert resolve_scheduler("local", cores=2) == "local"  # explicit choices are kept
    assert resolve_scheduler("tcp://host:8786", cores=2) == "tcp://host:8786"


def test_shards_give_every_worker_work():
    from clef.embed.config import shards

    ids = [f"s{i}" for i in range(7)]
    assert shards(ids, 32) == [ids]  # one process: the shard size rules
    assert shards(ids, 32, workers=2) == [ids[:4], ids[4:]]  # a small cohort: both cores
    assert shards(ids, 2, workers=2) == [ids[0:2], ids[2:3]] + [[s] for s in ids[3:]]  # the tail
    many = [f"s{i}" for i in range(200)]
    cut = shards(many, 32, workers=2)  # 136 sessions in shards of <= 32, the last 64 in 8s
    assert [len(c) for c in cut] == [32, 32, 32, 32, 8] + [8] * 8
    assert [s for c in cut for s in c] == many
    assert shards(ids, 3, workers=16) == [[s] for s in ids]
    assert shards([], 32, workers=2) == []


def test_worker_processes_give_the_in_process_store(cohort, ckpt, tmp_path):
    """scheduler 'processes' (forked workers, 2 of them, shards finishing in any order) gives the
    in-process store: same sessions, same failures, same vectors; multi-threaded workers are
    refused with the fix."""
    # one session per shard in both: the same batches (a batch's padding moves the last bits)
    here = embed_cohort(cohort, ckpt, tmp_path / "here", EmbedConfig(
        scheduler="none", shard_size=1, progress=False))
    forked = embed_cohort(cohort, ckpt, tmp_path / "forked", EmbedConfig(
        scheduler="processes", n_workers=2, shard_size=1, progress=False))
    assert list(forked.session_ids) == list(here.session_ids)
    np.testing.assert_array_equal(np.asarray(forked.embeddings), np.asarray(here.embeddings))
    assert forked.failures["session_id"].tolist() == here.failures["session_id"].tolist()
    assert len(here.failures) >= 1  # the fixture's bad recording is skipped and listed
    assert forked.manifest["run"]["scheduler"] == "processes"
    with pytest.raises(ValueError, match="1 torch thread"):
        embed_cohort(cohort, ckpt, tmp_path / "threads", EmbedConfig(
            scheduler="processes", threads_per_worker=2, progress=False))


def test_read_ahead_pipeline_equals_plain_path(cohort, ckpt, store, tmp_path):
    """Reading and tokenizing on threads ahead of the encoder (the default) gives the plain path's
    store: read, tokenize and encode in turn (read_threads=0); same failures, same vectors and
    window states."""
    runs = {}
    for threads in (0, 3):
        runs[threads] = embed_cohort(cohort, ckpt, tmp_path / f"t{threads}", EmbedConfig(
            scheduler="none", shard_size=3, batch_size=2, states=True, read_threads=threads,
            progress=False))
    plain, fast = runs[0], runs[3]
    assert fast.session_ids.tolist() == plain.session_ids.tolist() == store.session_ids.tolist()
    pd.testing.assert_frame_equal(fast.failures, plain.failures)
    np.testing.assert_allclose(fast.embeddings, plain.embeddings, atol=1e-6)
    np.testing.assert_allclose(store.embeddings, plain.embeddings, atol=1e-6)
    for sid in plain.session_ids:
        np.testing.assert_array_equal(fast.states(sid), plain.states(sid))
        np.testing.assert_array_equal(fast.thumbnail(sid).image, plain.thumbnail(sid).image)


def test_read_ahead_is_bounded_ordered_and_keeps_errors():
    """`prepared` yields in input order, never starts more than `ahead` items beyond what was
    consumed, returns an item's exception as its result, and stops its threads when closed."""
    import threading

    from clef.embed.worker import prepared

    started, lock = [], threading.Lock()

    def fn(i):
        with lock:
            started.append(i)
        time.sleep(0.001 * (i % 3))
        if i == 4:
            raise ValueError("bad item 4")
        return i * 10

    gen = prepared(fn, range(20), threads=2, ahead=3)
    got = []
    for k, (i, res) in enumerate(gen):
        with lock:
            assert len(started) <= k + 1 + 3  # consumed + read ahead
        got.append((i, res))
        if k == 9:
            break
    gen.close()
    assert [i for i, _ in got] == list(range(10))
    assert isinstance(got[4][1], ValueError) and str(got[4][1]) == "bad item 4"
    assert [r for i, r in got if i != 4] == [i * 10 for i in range(10) if i != 4]
    n = len(started)
    time.sleep(0.05)
    assert len(started) == n <= 14  # closed: nothing new starts
    with pytest.raises(ValueError, match="at least 1 thread"):
        next(prepared(fn, [1, 2], threads=0, ahead=0))


def test_cli_read_threads_plain_path_matches_default(ckpt, tmp_path):
    """`clef embed --read-threads 0` (plain path) gives the default's vectors; -1 is refused."""
    from typer.testing import CliRunner

    from clef.cli import app

    cohort = make_cohort(tmp_path / "c", 4, seconds=60.0)
    base = ["embed", "--cohort", str(cohort), "--checkpoint", str(ckpt), "--scheduler", "none",
            "--quiet"]
    bad = CliRunner().invoke(app, base + ["--out", str(tmp_path / "x"), "--read-threads", "-1"])
    assert bad.exit_code != 0 and "read-threads" in bad.output
    for name, extra in (("plain", ["--read-threads", "0"]), ("ahead", [])):
        res = CliRunner().invoke(app, base + ["--out", str(tmp_path / name)] + extra)
        assert res.exit_code == 0, res.output
    a, b = (EmbeddingStore.open(tmp_path / n) for n in ("plain", "ahead"))
    assert np.array_equal(a.session_ids, b.session_ids)
    assert np.allclose(a.embeddings, b.embeddings, atol=1e-6)


def test_signal_designs_from_the_child_are_the_ones_made_here():
    """The designs `clef embed` has a child make (while it imports torch) equal those each
    worker would make: seeding them changes no number."""
    from clef.embed import worker
    from clef.io import read

    worker.start_signal_designs()
    mine = {k: v for k, v in read.SIGNAL_DESIGNS.items()}
    read.SIGNAL_DESIGNS.clear()
    try:
        assert worker.take_signal_designs() > 0
        from_child = dict(read.SIGNAL_DESIGNS)
        read.SIGNAL_DESIGNS.clear()
        here = worker.default_signal_designs()
    finally:
        read.SIGNAL_DESIGNS.update(mine)
    assert from_child.keys() == here.keys()
    for key, value in here.items():
        got = from_child[key]
        for a, b in zip(value if isinstance(value, tuple) else (value,),
                        got if isinstance(got, tuple) else (got,), strict=True):
            assert np.array_equal(a, b), key


_NO_SCIPY_SIGNAL = """
import sys
from clef.embed import worker
worker.start_signal_designs()
from clef.embed import load_model
model = load_model("clef-tiny")
worker.take_signal_designs()
from clef.io import read_session
session = read_session(sys.argv[1])
model.tokenizer.tokenize([session])
print("scipy.signal" in sys.modules)
"""


def test_workers_read_and_tokenize_without_importing_scipy_signal(eegmmidb_edf):
    """With the child's designs, reading (160 Hz -> 200 Hz, filter) and tokenizing a recording
    never imports scipy.signal: each forked worker saves its ~1.3 s import."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _NO_SCIPY_SIGNAL, str(eegmmidb_edf)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "False", res.stdout
