"""Search benchmark (issue 17): relevance, timelines, discordance and keyword latency.

On the shipped sample bundle (``data_samples/``: 2,000 synthetic sessions, the ``clef-tiny``
checkpoint and its store), measured against the generator's truth (``tasks.parquet`` labels,
``oracle.parquet`` event times):

* top-10 relevance on the unseen-phrasings query set (``benchmarks/queries/unseen_phrasings.yaml``)
  for EEG-only, report-only (BM25) and fused (RRF) search: the share of the 10 hits whose task
  label is 1, over every session of the cohort;
* concept-timeline hit rate: for sessions whose finding occupies under half of the recording, do
  the timeline's top 3 time patches overlap a ground-truth event? (chance: 3 random patches);
* discordance precision: "EEG top 10%, report silent" and "report affirms, EEG bottom 10%" lists
  against the truth, with the base rate of a random pick;
* keyword latency at 100k reports: ``clef.search.ReportIndex`` (bm25s), SQLite FTS5 and
  ``rank-bm25`` (when installed) on the same reports.

    nice .venv/bin/python benchmarks/search.py [--timeline-sessions 8] [--n-reports 100000]
"""
from __future__ import annotations

# ruff: noqa: ISC004 - the report is a list of lines, some written as joined literals
import argparse
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "search.md"
TIMELINE_CONCEPTS = ("generalized_polyspikes", "firda", "gsw_3hz", "seizure", "ied_left_temporal",
                     "ied_right_temporal", "ied_frontal", "focal_slowing_left_temporal",
                     "focal_slowing_right_temporal", "focal_slowing_frontal", "triphasic_waves",
                     "sleep_spindles", "k_complexes", "vertex_waves")
LATENCY_QUERIES = ("left temporal sharp waves", "generalized slowing", "burst suppression",
                   "triphasic waves", "excess beta activity", "R temporal LPDs", "sleep spindles",
                   "diffuse theta/delta", "no epileptiform discharges", "FIRDA")


def load():
    import torch

    from clef.bundle import Bundle
    from clef.cohort import Cohort
    from clef.explore import embeddings_in_order
    from clef.index import SessionIndex
    from clef.model import CLEFModel
    from clef.store import EmbeddingStore

    torch.set_num_threads(1)
    b = Bundle.locate(REPO / "data_samples")
    idx = SessionIndex.load(b.index)
    model = CLEFModel.from_pretrained(str(b.checkpoint))
    model.eval()
    emb = embeddings_in_order(EmbeddingStore.open(b.store), idx.session_ids)
    labels = idx.labels.set_index("session_id").reindex(idx.sessions["session_id"])
    return b, idx, model, np.asarray(emb, np.float32), labels, Cohort.load(b.cohort)


def relevance(idx, model, emb, labels) -> pd.DataFrame:
    """Top-10 precision per query for EEG, report and fused rankings."""
    from clef.index import text_vector
    from clef.search import ReportIndex, fuse

    sessions = idx.sessions
    rep_index = ReportIndex(sessions["session_id"], sessions["report"])
    queries = yaml.safe_load((REPO / "benchmarks/queries/unseen_phrasings.yaml").read_text())
    rows = []
    for task, qs in queries.items():
        if task not in labels.columns:
            continue
        y = labels[task].fillna(-1).to_numpy()
        for q in qs:
            eeg = emb @ text_vector(q, model)
            rep = rep_index.scores(q)
            top_eeg = np.argsort(-eeg, kind="stable")[:10]
            hits = np.flatnonzero(rep > 0)
            top_rep = hits[np.argsort(-rep[hits], kind="stable")[:10]]
            top_fused = fuse(eeg, rep, sessions["session_id"], k=10)["row"].to_numpy()
            rows.append({"task": task, "query": q, "prevalence": float((y == 1).mean()),
                         "eeg": float((y[top_eeg] == 1).mean()),
                         "report": float((y[top_rep] == 1).sum() / 10),
                         "report_hits": len(hits),
                         "fused": float((y[top_fused] == 1).mean())})
    return pd.DataFrame(rows)


def timelines(idx, model, cohort, n_per_concept: int, oracle_path: Path) -> pd.DataFrame:
    """Top-3 timeline patches vs ground-truth event intervals."""
    from clef.explore import concept_timeline, window_states
    from clef.index import text_vector
    from clef.search import timeline_hit
    from clef.vocabulary import VOCABULARY

    oracle = pd.read_parquet(oracle_path)
    dur = idx.sessions.set_index("session_id")["duration_s"]
    rng = np.random.default_rng(0)
    rows = []
    for concept in TIMELINE_CONCEPTS:
        o = oracle[oracle["concept"] == concept]
        cover = o.groupby("session_id")["duration_s"].sum() / dur.reindex(
            o["session_id"].unique()).to_numpy()
        sids = cover[cover < 0.5].index.to_numpy()
        if not len(sids):
            continue
        sids = rng.choice(sids, min(n_per_concept, len(sids)), replace=False)
        vec = text_vector(VOCABULARY[concept].label, model)
        for sid in sids:
            states, patch_s = window_states(model, cohort.session(sid))
            tl = concept_timeline(states, None, None, vec, patch_s)
            ev = o[o["session_id"] == sid][["onset_s", "duration_s"]].to_numpy()
            hit, chance = timeline_hit(tl, ev, patch_s, n=3)
            rows.append({"concept": concept, "session_id": sid, "hit": hit, "chance": chance})
    return pd.DataFrame(rows)


def discordance(idx, model, emb, labels) -> pd.DataFrame:
    from clef.index import text_vector
    from clef.search import discordance_precision, discordant, report_mentions
    from clef.vocabulary import VOCABULARY

    s = idx.sessions
    mentions = report_mentions(s["report"], s["session_id"])
    has = s["report"].fillna("").str.strip().ne("").to_numpy()
    rows = []
    for concept in mentions.columns:
        if concept not in labels.columns or concept not in VOCABULARY:
            continue
        y = labels[concept].fillna(-1).to_numpy().astype(int)
        m = mentions[concept].to_numpy()
        eeg = emb @ text_vector(VOCABULARY[concept].label, model)
        for direction in ("eeg_only", "report_only"):
            r = discordant(eeg, m, direction, top_percent=10, has_report=has)
            p = discordance_precision(r, m, y, direction, has)
            rows.append({"concept": concept, "direction": direction, "listed": p.n_listed,
                         "true": p.n_true, "precision": p.precision, "base_rate": p.base_rate})
    return pd.DataFrame(rows)


def synthetic_reports(reports, n: int, seed: int = 0) -> list[str]:
    """``n`` reports made by drawing statements of the sample reports into FINDINGS/IMPRESSION."""
    from clef.text.statements import split_statements

    finds, imps = [], []
    for r in reports:
        for st in split_statements(r):
            (imps if "IMPRESSION" in st.section else finds).append(st.text)
    rng = np.random.default_rng(seed)
    fi, ii = rng.integers(0, len(finds), (n, 6)), rng.integers(0, len(imps), (n, 2))
    return [f"FINDINGS: {' '.join(finds[j] for j in fi[i])}\nIMPRESSION: "
            f"{' '.join(imps[j] for j in ii[i])}" for i in range(n)]


def _median_ms(fn, queries, repeat: int = 3) -> float:
    ts = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def latency(reports: list[str]) -> pd.DataFrame:
    from clef.search import ReportIndex, query_terms

    ids = [f"r{i}" for i in range(len(reports))]
    rows = []
    t = time.perf_counter()
    ri = ReportIndex(ids, reports)
    build = time.perf_counter() - t
    rows.append(("clef.search.ReportIndex (bm25s, statements)", build,
                 _median_ms(lambda q: ri.search(q, k=100), LATENCY_QUERIES)))

    t = time.perf_counter()
    con = sqlite3.connect(":memory:")
    con.execute("create virtual table r using fts5(body, tokenize='porter unicode61')")
    con.executemany("insert into r(rowid, body) values (?, ?)", enumerate(reports))
    build = time.perf_counter() - t

    def fts(q):
        words = " OR ".join(f'"{w}"' for w in query_terms(q)[0]) or '"x"'
        return con.execute("select rowid from r where r match ? order by bm25(r) limit 100",
                           (words,)).fetchall()

    rows.append(("SQLite FTS5 (whole report, porter)", build, _median_ms(fts, LATENCY_QUERIES)))
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        rows.append(("rank-bm25 (not installed)", float("nan"), float("nan")))
    else:
        t = time.perf_counter()
        rb = BM25Okapi([re.findall(r"\w+", r.lower()) for r in reports])
        build = time.perf_counter() - t
        rows.append(("rank-bm25 (whole report)", build, _median_ms(
            lambda q: np.argsort(-rb.get_scores(query_terms(q)[0]))[:100], LATENCY_QUERIES[:4],
            repeat=1)))
    return pd.DataFrame(rows, columns=["backend", "build_s", "query_ms_median"])


def _md(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A markdown table (no tabulate dependency)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "n/a" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def main(argv=None) -> int:  # long: one report, written in order
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeline-sessions", type=int, default=8)
    p.add_argument("--n-reports", type=int, default=100_000)
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args(argv)
    b, idx, model, emb, labels, cohort = load()
    t0 = time.time()
    rel = relevance(idx, model, emb, labels)
    tl = timelines(idx, model, cohort, a.timeline_sessions, Path(b.cohort) / "oracle.parquet")
    disc = discordance(idx, model, emb, labels)
    lat = latency(synthetic_reports(idx.sessions["report"], a.n_reports))
    by_task = rel.groupby("task")[["prevalence", "eeg", "report", "fused"]].mean().reset_index()
    overall = rel[["prevalence", "eeg", "report", "fused"]].mean()
    tl_c = tl.groupby("concept").agg(sessions=("hit", "size"), hit_rate=("hit", "mean"),
                                     chance=("chance", "mean")).reset_index()
    micro = disc.groupby("direction")[["listed", "true"]].sum()
    micro["precision"] = micro["true"] / micro["listed"]
    base = disc.groupby("direction")["base_rate"].mean()
    sha = idx.manifest.get("model_sha256", "")[:12]
    lines = [
        "# Search benchmark (issue 17)", "",
        f"`benchmarks/search.py` on `data_samples/` ({len(idx):,} synthetic sessions), "
        f"checkpoint `{idx.manifest.get('model_name')}` (model sha256 `{sha}…`), "
        f"{time.time() - t0:.0f} s. Truth: `tasks.parquet` labels and `oracle.parquet` events.",
        "", "## Top-10 relevance, unseen-phrasings query set", "",
        f"{len(rel)} queries over {rel['task'].nunique()} tasks; share of the top 10 whose task "
        "label is 1, over the whole cohort (report-only counts missing hits as misses).", "",
        _md(pd.DataFrame([overall.rename("mean over queries")]).reset_index(names="")), "",
        "<details><summary>per task</summary>", "", _md(by_task), "", "</details>", "",
        "## Concept timeline: top 3 minutes vs ground-truth events", "",
        f"Sessions whose finding covers under half of the recording ({len(tl)} sessions); a hit "
        "when one of the 3 best time patches overlaps an event. Chance: 3 random patches.", "",
        f"Overall hit rate **{tl['hit'].mean():.3f}** vs chance {tl['chance'].mean():.3f}.", "",
        _md(tl_c), "",
        "## Report-EEG discordance precision", "",
        "Lists at the EEG's top 10% (report silent) and bottom 10% (report affirms), for every "
        "finding the report reader knows; precision = listed sessions that are real "
        "discordances (truth 1 for a silent report, truth 0 for an affirming one).", "",
        _md(micro.assign(mean_base_rate=base).reset_index()), "",
        "<details><summary>per finding</summary>", "", _md(disc), "", "</details>", "",
        f"## Keyword search latency at {a.n_reports:,} reports", "",
        "Reports drawn from the sample reports' statements; 10 queries, median over 3 passes "
        "(rank-bm25: 4 queries, 1 pass), one thread, on a shared 2-core machine.", "",
        _md(lat, ".2f"), "",
    ]
    a.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
