"""Session index, cohort map and batch embedding speed (issue 7 targets).

1. ANN at scale: N vectors (default 1M) shaped like session embeddings, with 1,000 held-out
   queries from the same distribution. ``SessionIndex.from_vectors(kind="auto")`` (IVF above 200k,
   nprobe tuned at build) vs exact search: build time, single-query p50/p95 latency (FAISS call and
   the full ``by_vector`` call that returns a DataFrame), recall@10 against brute force.
   Targets: p50 <= 5 ms, recall@10 >= 0.95.
2. Exact at 100k: ``IndexFlatIP`` single-query latency (target <= 10 ms) vs numpy brute force.
3. UMAP (``CohortMap.fit``, cosine, seeded) at 10k and 100k (target 100k <= 3 min), after a
   small warm-up fit that pays numba's compilation once.
4. ``clef embed`` throughput (sessions/s) on a Dask LocalCluster vs one process, on a synthetic
   cohort (signals regenerated on demand) with a checkpoint (``--checkpoint``, else the shipped
   ``data_samples/clef-tiny``, else a randomly initialised clef-tiny).

Data: with ``--store``, a Gaussian mixture fitted to that store's embeddings (PCA to <= 32 dims,
full-covariance mixture there, isotropic residual noise with the store's residual variance).
Without, a documented clustered mixture in D dims (default 256): 100 clusters, Dirichlet(1)
weights, centres uniform on the sphere, each cluster an anisotropic Gaussian with a randomly
rotated power-law spectrum (sd_i = s * i^-0.8, s ~ U(0.15, 0.35)) plus an isotropic 0.01 floor,
then L2-normalised. Uniform random vectors would be the wrong test: no ANN index reaches useful
recall on them, while real embeddings lie near a low-dimensional clustered manifold.

Usage: ``python benchmarks/index.py [--quick] [--n 1000000] [--store STORE] [--out FILE]``
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import faiss

from clef.index import SessionIndex, omp_threads
from clef.store import l2_normalize

# ----------------------------------------------------------------------------------------------
# data


def clustered_mixture(n: int, dim: int, seed: int, n_clusters: int = 100) -> np.ndarray:
    """The documented clustered mixture (see module docstring). -> (n, dim) unit float32."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(n_clusters))
    centers = l2_normalize(rng.normal(size=(n_clusters, dim)))
    counts = rng.multinomial(n, weights)
    out = np.empty((n, dim), np.float32)
    pos = 0
    for c in range(n_clusters):
        m = int(counts[c])
        if m == 0:
            continue
        sd = rng.uniform(0.15, 0.35) * np.arange(1, dim + 1) ** -0.8  # (dim,)
        rot = np.linalg.qr(rng.normal(size=(dim, dim)))[0].astype(np.float32)
        z = (rng.standard_normal((m, dim)) * sd).astype(np.float32) @ rot.T  # (m, dim)
        z += rng.standard_normal((m, dim)).astype(np.float32) * 0.01
        out[pos:pos + m] = centers[c] + z
        pos += m
    out = out[rng.permutation(n)]
    return l2_normalize(out)


class StoreMixture:
    """Gaussian mixture fitted to a store's embeddings (PCA space) + isotropic residual."""

    def __init__(self, emb: np.ndarray, seed: int):
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture

        emb = l2_normalize(np.asarray(emb, np.float32))
        n, dim = emb.shape
        r = int(max(2, min(32, dim, n // 20)))
        self.pca = PCA(r, random_state=seed).fit(emb)
        z = self.pca.transform(emb)
        k = int(max(1, min(32, n // 50)))
        self.gmm = GaussianMixture(k, covariance_type="full", random_state=seed).fit(z)
        resid = emb - self.pca.inverse_transform(z)
        self.resid_sd = float(resid.std())
        self.dim, self.k, self.r = dim, k, r
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> np.ndarray:
        out = np.empty((n, self.dim), np.float32)
        for s in range(0, n, 200_000):
            m = min(200_000, n - s)
            self.gmm.random_state = int(self.rng.integers(1 << 31))
            z, _ = self.gmm.sample(m)
            x = self.pca.inverse_transform(z).astype(np.float32)
            x += self.rng.standard_normal(x.shape).astype(np.float32) * self.resid_sd
            out[s:s + m] = x[self.rng.permutation(m)]
        return l2_normalize(out)


# ----------------------------------------------------------------------------------------------
# measurements


CPU = {}  # id(latency array) -> per-call CPU seconds of this thread


def latencies(fn, queries) -> np.ndarray:
    """Wall seconds per call of fn(q) for each query (one at a time); the calling thread's CPU
    seconds per call go to ``CPU[id(result)]`` (with 1 OpenMP thread FAISS runs in this thread,
    so CPU time is what an idle core would take: it does not count time spent descheduled)."""
    out = np.empty(len(queries))
    cpu = np.empty(len(queries))
    for i, q in enumerate(queries):
        t, c = time.perf_counter(), time.thread_time()
        fn(q)
        out[i] = time.perf_counter() - t
        cpu[i] = time.thread_time() - c
    CPU[id(out)] = cpu
    return out


def cpu_p50(lat) -> str:
    return f"{1000 * float(np.median(CPU[id(lat)])):.2f} ms"


def ms(a) -> str:
    return f"{1000 * float(a):.2f} ms"


def recall_at(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))


def bench_ann(x, q, lines):
    n, dim = x.shape
    t = time.perf_counter()
    idx = SessionIndex.from_vectors(x, progress=False)
    build = time.perf_counter() - t
    p = idx.manifest["index"]
    t = time.perf_counter()
    _, exact = faiss.knn(q, x, 10, metric=faiss.METRIC_INNER_PRODUCT)  # (nq, 10) brute force
    t_exact_batch = time.perf_counter() - t
    _, approx = idx.index.search(q, 10)
    rec = recall_at(approx, exact)
    with omp_threads(p["search_threads"]):  # as by_vector does
        lat_faiss = latencies(lambda v: idx.index.search(v[None, :], 10), q)
    lat_api = latencies(lambda v: idx.by_vector(v, 10), q[:300])
    flat = faiss.IndexFlatIP(dim)
    flat.add(x)
    with omp_threads(p["search_threads"]):
        lat_flat = latencies(lambda v: flat.search(v[None, :], 10), q[:100])
    flat.reset()  # free its memory before the next part
    p50, p95 = np.percentile(lat_faiss, [50, 95])
    lines += [
        f"## 1. Automatic index at {n:,} x {dim}",
        "",
        f"- chosen: `{idx}`; params {p}",
        f"- build (train + add + nprobe tuning): {build:.1f} s",
        (f"- recall@10 vs brute force, {len(q):,} held-out queries: **{rec:.4f}** (target >= 0.95) "
        f"{'PASS' if rec >= 0.95 else 'MISS'}"),
        (f"- single-query FAISS search: p50 **{ms(p50)}**, p95 {ms(p95)} (target p50 <= 5 ms) "
        f"{'PASS' if p50 <= 0.005 else 'MISS'}; CPU time per query p50 {cpu_p50(lat_faiss)}"),
        (f"- single-query `by_vector` (search + DataFrame with metadata): p50 "
        f"{ms(np.median(lat_api))}, p95 {ms(np.percentile(lat_api, 95))}"),
        (f"- reference, exact `IndexFlatIP` single query at {n:,}: p50 {ms(np.median(lat_flat))} "
        f"(CPU {cpu_p50(lat_flat)}) -> ANN is **{np.median(lat_flat) / p50:.0f}x** faster"),
        f"- (exact batch of {len(q):,} queries for ground truth: {t_exact_batch:.1f} s)",
        "",
    ]
    print("\n".join(lines[-11:]), flush=True)


def bench_exact(x, q, n_exact, lines):
    sub = np.ascontiguousarray(x[:n_exact])
    t = time.perf_counter()
    idx = SessionIndex.from_vectors(sub, progress=False)
    build = time.perf_counter() - t
    assert idx.kind == "flat"
    with omp_threads(idx.manifest["index"]["search_threads"]):
        lat = latencies(lambda v: idx.index.search(v[None, :], 10), q[:300])
    with omp_threads(0):
        lat_all = latencies(lambda v: idx.index.search(v[None, :], 10), q[:100])
    lat_api = latencies(lambda v: idx.by_vector(v, 10), q[:300])

    def numpy_topk(v):
        s = sub @ v
        top = np.argpartition(-s, 10)[:10]
        return top[np.argsort(-s[top])]

    lat_np = latencies(numpy_topk, q[:100])
    _, ref = faiss.knn(q[:50], sub, 10, metric=faiss.METRIC_INNER_PRODUCT)
    same = all(np.array_equal(numpy_topk(v), r) for v, r in zip(q[:50], ref))
    p50, p95 = np.percentile(lat, [50, 95])
    lines += [
        f"## 2. Exact search at {n_exact:,} x {x.shape[1]}",
        "",
        f"- build: {build:.2f} s; `{idx}`",
        (f"- single-query `IndexFlatIP`: p50 **{ms(p50)}**, p95 {ms(p95)} (target <= 10 ms) "
        f"{'PASS' if p50 <= 0.010 else 'MISS'}; CPU time per query p50 **{cpu_p50(lat)}** "
        f"{'PASS' if np.median(CPU[id(lat)]) <= 0.010 else 'MISS'}"),
        f"- single-query `by_vector` (with DataFrame): p50 {ms(np.median(lat_api))}",
        (f"- same search with all {faiss.omp_get_max_threads()} OpenMP threads (FAISS default): "
        f"p50 {ms(np.median(lat_all))} (why `IndexConfig.search_threads` is 1)"),
        (f"- reference numpy brute force (matmul + argpartition): p50 {ms(np.median(lat_np))} "
        f"-> FAISS {np.median(lat_np) / p50:.1f}x faster; same top-10 as FAISS on 50 queries: "
        f"{same}"),
        "",
    ]
    print("\n".join(lines[-9:]), flush=True)


def bench_umap(x, sizes, lines):
    from clef.maps import CohortMap, MapConfig

    t = time.perf_counter()
    CohortMap.fit(x[:1000], config=MapConfig(), progress=False)
    warm = time.perf_counter() - t
    lines += [("## 3. UMAP cohort map (`CohortMap.fit`, cosine, n_neighbors=15, min_dist=0.1, "
              "seed=0)"), "",
              f"- warm-up fit of 1,000 (numba compilation, paid once per process): {warm:.1f} s"]
    for n in sizes:
        t, c = time.perf_counter(), time.process_time()
        cmap = CohortMap.fit(x[:n], config=MapConfig(), progress=False)
        total, cpu = time.perf_counter() - t, time.process_time() - c
        p = cmap.params
        target = f" (target <= 180 s) {'PASS' if total <= 180 else 'MISS'}" if n >= 100_000 else ""
        lines.append(f"- {n:,} sessions: **{total:.1f} s**{target}; kNN graph "
                     f"({'exact' if n <= MapConfig().exact_knn_max else 'IVF'} FAISS) "
                     f"{p['knn_seconds']:.1f} s, UMAP layout {p['fit_seconds'] - p['knn_seconds']:.1f} s")
        lines.append(f"  - CPU time of the fit (all threads; close to the wall time on an idle "
                     f"machine, as the seeded layout is single-threaded): {cpu:.1f} s")
        t = time.perf_counter()
        cmap.transform(x[:1000] + 0.001)
        lines.append(f"  - placing 1,000 new sessions with `transform`: "
                     f"{1000 * (time.perf_counter() - t):.0f} ms")
        print("\n".join(lines[-3:]), flush=True)
    lines.append("")


def bench_embed(args, lines):
    lines += ["## 4. `clef embed` throughput", ""]
    try:
        from clef.embed import EmbedConfig, embed_cohort
        from clef.model import CLEFModel
        from clef.synth import generate_cohort
    except ImportError as e:
        lines += [f"not measured: {e}", ""]
        return
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = args.checkpoint
        shipped = REPO / "data_samples" / "clef-tiny"
        if ckpt is None and (shipped / "model.safetensors").is_file():
            ckpt = shipped
        if ckpt is None:
            torch.manual_seed(0)
            CLEFModel.from_config("clef-tiny").save_pretrained(tmp / "ckpt")
            ckpt, what = tmp / "ckpt", "randomly initialised clef-tiny"
        else:
            what = str(ckpt)
        t = time.perf_counter()
        generate_cohort(tmp / "cohort", args.embed_sessions, seed=0, minutes=args.embed_minutes,
                        signals="none", progress=False)
        gen = time.perf_counter() - t
        res = {}
        for name, cfg in (("one process (--scheduler none)",
                           EmbedConfig(scheduler="none", progress=False, shard_size=4)),
                          (f"LocalCluster, {args.workers} workers x 1 thread",
                           EmbedConfig(scheduler="local", n_workers=args.workers,
                                       progress=False, shard_size=4))):
            t = time.perf_counter()
            st = embed_cohort(tmp / "cohort", ckpt, tmp / f"store{len(res)}", cfg)
            wall = time.perf_counter() - t
            res[name] = (len(st) + len(st.failures)) / wall, st.manifest["run"], wall
        lines += [(f"{args.embed_sessions} synthetic sessions of {args.embed_minutes:g} min "
                  f"(regenerated on demand: synthesis + preprocessing + multitaper tokens + "
                  f"encoder), checkpoint {what}; cohort tables made in {gen:.1f} s."), "",
                  "| mode | sessions/s (wall, incl. start-up) | sessions/s (work) | wall s |",
                  "|---|---|---|---|"]
        for name, (rate, run, wall) in res.items():
            lines.append(f"| {name} | {rate:.2f} | {run['sessions_per_s']:.2f} | {wall:.1f} |")
        names = list(res)
        lines += ["", (f"LocalCluster / one process (wall): "
                  f"**{res[names[1]][0] / res[names[0]][0]:.2f}x**; max model loads per worker: "
                  f"{res[names[1]][1]['max_model_loads_per_worker']}"), ""]
    print("\n".join(lines[-8:]), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (minutes, not tens)")
    ap.add_argument("--n", type=int, default=None, help="vectors for the ANN test (1M)")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--store", type=Path, default=None, help="fit the mixture to this store")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--embed-sessions", type=int, default=None)
    ap.add_argument("--embed-minutes", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--skip", nargs="*", default=[], choices=["ann", "exact", "umap", "embed"])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "index.md")
    ap.add_argument("--append", action="store_true", help="append to --out instead of replacing")
    args = ap.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    n_exact = min(100_000, n)
    umap_sizes = [s for s in ((2_000, 10_000) if args.quick else (10_000, 100_000)) if s <= n]
    args.embed_sessions = args.embed_sessions or (8 if args.quick else 24)
    if args.quick:
        args.embed_minutes = min(args.embed_minutes, 5.0)

    t0 = time.perf_counter()
    if args.store is not None:
        from clef.store import EmbeddingStore

        st = EmbeddingStore.open(args.store)
        mix = StoreMixture(np.asarray(st.embeddings), seed=0)
        data = mix.sample(n + args.queries)
        source = (f"Gaussian mixture fitted to store `{args.store}` ({len(st):,} x {st.dim}; "
                  f"PCA {mix.r} dims, {mix.k} full-covariance components, residual sd "
                  f"{mix.resid_sd:.4f})")
    else:
        data = clustered_mixture(n + args.queries, args.dim, seed=0)
        source = (f"documented clustered mixture, D={args.dim} (100 anisotropic clusters; see the "
                  "script's docstring)")
    x, q = data[:n], data[n:]
    gen_s = time.perf_counter() - t0
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = [
        "# Session index, cohort map and batch embedding benchmark",
        "",
        f"Command: `{' '.join(['python', 'benchmarks/index.py', *sys.argv[1:]])}`  ",
        (f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, faiss {faiss.__version__} "
        f"({faiss.omp_get_max_threads()} OpenMP threads), python {platform.python_version()}  "),
        (f"Load average at start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is "
        "shared with other jobs; timings are noisy and pessimistic when it is loaded)  "),
        f"Data: {source}; {n:,} indexed + {len(q):,} held-out queries, made in {gen_s:.1f} s.",
        "",
    ]
    print("\n".join(lines), flush=True)
    if "ann" not in args.skip:
        bench_ann(x, q, lines)
    if "exact" not in args.skip:
        bench_exact(x, q, n_exact, lines)
    if "umap" not in args.skip:
        bench_umap(x, umap_sizes, lines)
    if "embed" not in args.skip:
        bench_embed(args, lines)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines += [(f"Total {time.perf_counter() - t0:.0f} s; load average at the end: "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}."), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    if args.append and args.out.is_file():
        text = args.out.read_text() + "\n---\n\n" + text
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
