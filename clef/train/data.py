"""Pretraining data: a cohort's sessions as cached tokens, cached report features and EHR records.

Tokens come from ``clef.tokenizer.TokenCache`` (filled once, in parallel with ``workers``); report
texts are preprocessed and embedded once by the frozen text backbone into a
``clef.model.text.TextFeatureCache``. Batches are a pure function of (seed, stage, step), so a
resumed run sees exactly the batches and masks of an uninterrupted one, on any number of ranks.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from clef.errors import InvalidCohort
from clef.model.ehr import _as_list
from clef.model.text import TextFeatureCache, make_backbone, preprocess_report
from clef.tokens import Tokens


@dataclass
class Batch:
    """One (rank-local) training batch."""

    index: np.ndarray  # rows of the dataset, (b,)
    tokens: Tokens  # (b, N)
    text: torch.Tensor  # (b, feat_dim) backbone features of the reports
    text_group: torch.Tensor  # (b,) int64: equal id = identical report text
    ehr: dict  # EHRTower.featurize output
    ehr_group: torch.Tensor  # (b,) int64: equal id = identical EHR record
    noise: torch.Tensor  # (b, N) float in [0, 1): masking noise, fixed per (seed, stage, step, row)
    states: torch.Tensor | None = None  # (b, N, d_model) locked-encoder states (clef.train.frozen)
    text_pool: torch.Tensor | None = None  # (M, feat_dim) statement features (findings targets)
    text_pos: torch.Tensor | None = None  # (b, M) bool: statement j is affirmed by session b


def select_sessions(sessions: pd.DataFrame, split: str | None = "train", sites=None,
                    max_sessions: int | None = None) -> pd.DataFrame:
    """Rows used for training: ``split`` (when the column is filled), ``sites``, first N by id."""
    df = sessions
    if split is not None and "split" in df.columns and df["split"].notna().any():
        df = df[df["split"] == split]
    if sites:
        df = df[df["site"].isin(list(sites))]
    df = df.sort_values("session_id", kind="stable")
    if max_sessions is not None:
        df = df.iloc[:max_sessions]
    if len(df) == 0:
        raise InvalidCohort(f"no sessions left for split={split!r}, sites={sites!r}. Fix: check "
                            "the cohort's split/site columns or the --sites option.")
    return df.reset_index(drop=True)


# ------------------------------------------------------------------------------------ tokens
_WORKER: dict = {}


def _init_worker(cohort_dir: str, cache_dir: str, tok_cfg: dict) -> None:
    import torch as _torch

    from clef.cohort import Cohort
    from clef.tokenizer import TokenCache, TokenizerConfig

    _torch.set_num_threads(1)
    cfg = TokenizerConfig.from_dict(tok_cfg)
    _WORKER.update(cohort=Cohort.load(cohort_dir), cache=TokenCache(cache_dir, cfg), cfg=cfg)


def _fill_one(session_id: str) -> tuple[str, str | None]:
    try:
        cohort, cache, cfg = _WORKER["cohort"], _WORKER["cache"], _WORKER["cfg"]
        cache.get_or_compute(session_id, lambda: cohort.session(session_id, sfreq=cfg.sfreq))
        return session_id, None
    except Exception as e:  # noqa: BLE001 - batch job: any failure is reported and skipped
        return session_id, f"{type(e).__name__}: {e}"


def fill_token_cache(cohort, session_ids: list[str], cache, workers: int = 1,
                     progress: bool = True, rank: int = 0, world: int = 1) -> dict[str, str]:
    """Tokenize sessions missing from ``cache`` (this rank's share); returns ``{id: error}``.

    Sessions that cannot be read are skipped and reported; the rest are kept.
    """
    from tqdm.auto import tqdm

    todo = [s for i, s in enumerate(session_ids) if i % world == rank and s not in cache]
    errors: dict[str, str] = {}
    if not todo:
        return errors
    bar = tqdm(total=len(todo), desc="tokenize sessions", unit="session",
               disable=not progress or rank != 0)
    if workers <= 1:
        _WORKER.update(cohort=cohort, cache=cache, cfg=cache.config)
        for sid in todo:
            _, err = _fill_one(sid)
            if err:
                errors[sid] = err
            bar.update()
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(str(cohort.root), str(cache.root),
                                           cache.config.to_dict())) as ex:
            for sid, err in ex.map(_fill_one, todo, chunksize=4):
                if err:
                    errors[sid] = err
                bar.update()
    bar.close()
    return errors


# ------------------------------------------------------------------------------------ dataset
class PretrainData:
    """Training rows of a cohort with cached tokens, report features and EHR records.

    Parameters
    ----------
    rows : DataFrame
        Sessions (from :func:`select_sessions`), all present in ``token_cache``.
    token_cache : clef.tokenizer.TokenCache
    text_features : np.ndarray
        (n, feat_dim) backbone features of the preprocessed reports, row-aligned with ``rows``.
    ehr_tower : clef.model.ehr.EHRTower
        Used for ``featurize`` only (its vocab).
    text_keys : list of str, optional
        Preprocessed report texts; identical ones are positives of each other in the loss.
    targets : clef.train.targets.TextTargets, optional
        Findings-level targets (statements); batches then carry a statement pool.
    statements_per_step : int
        Affirmed statements sampled per session and step (with ``targets``).
    negated_negatives : bool
        Add one negated statement per session to the pool as an explicit negative.
    """

    def __init__(self, rows: pd.DataFrame, token_cache, text_features: np.ndarray, ehr_tower,
                 text_keys: list[str] | None = None, targets=None, statements_per_step: int = 2,
                 negated_negatives: bool = True):
        self.rows = rows.reset_index(drop=True)
        self.ids = self.rows["session_id"].astype(str).tolist()
        self.cache = token_cache
        self.text = torch.from_numpy(np.ascontiguousarray(text_features, np.float32))
        self.ehr_tower = ehr_tower
        cols = [c for c in ("diagnoses", "medications", "age", "sex", "setting")
                if c in self.rows.columns]
        self.records = self.rows[cols].to_dict("records")
        if text_keys is None:
            text_keys = [str(i) for i in range(len(self.rows))]
        self.text_group = torch.tensor(_group_ids(list(text_keys)), dtype=torch.long)
        self.ehr_group = torch.tensor(_group_ids([_ehr_key(r) for r in self.records]),
                                      dtype=torch.long)
        self.targets = targets
        self.statements_per_step = statements_per_step
        self.negated_negatives = negated_negatives

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self, index) -> Tokens:
        from clef.tokenizer import collate_tokens

        items = []
        for i in index:
            t = self.cache.get(self.ids[i])
            if t is None:
                raise InvalidCohort(f"session {self.ids[i]!r} is missing from the token cache "
                                    f"{self.cache}. Fix: rerun so the cache is filled.")
            items.append(t)
        return collate_tokens(items)

    def batch(self, index: np.ndarray, seed: int, stage: int, step: int,
              tokens: Tokens | None = None, states: torch.Tensor | None = None) -> Batch:
        """Rows ``index``; ``tokens``/``states`` replace the cached tokens (locked encoder)."""
        tokens = self.tokens(index) if tokens is None else tokens
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        pool = pos = None
        if self.targets is not None:
            pool, pos = self.targets.sample(index, self.statements_per_step,
                                            self.negated_negatives, seed, stage, step)
        return Batch(index=np.asarray(index), tokens=tokens, text=self.text[idx],
                     text_group=self.text_group[idx],
                     ehr=self.ehr_tower.featurize([self.records[i] for i in index]),
                     ehr_group=self.ehr_group[idx],
                     noise=mask_noise(tokens, index, seed, stage, step), states=states,
                     text_pool=pool, text_pos=pos)


def mask_noise(tokens: Tokens, index, seed: int, stage: int, step: int) -> torch.Tensor:
    """(B, N) uniform noise; row b depends only on (seed, stage, step, dataset row index[b])."""
    B, N = tokens.mask.shape
    out = torch.ones(B, N)
    for b, i in enumerate(index):
        g = torch.Generator().manual_seed(_mix(seed, stage, step, int(i)))
        n = int(tokens.mask[b].sum())
        out[b, :n] = torch.rand(n, generator=g)
    return out


def unit_noise(noise: torch.Tensor, tokens: Tokens, unit: str) -> torch.Tensor:
    """``noise`` shared within each masking unit, so stage 1 hides whole units together.

    Parameters
    ----------
    noise : torch.Tensor
        (B, N) from :func:`mask_noise`: iid uniform over each row's real tokens (first), 1 after.
    tokens : Tokens
        The batch the noise belongs to.
    unit : str
        "token" (``noise`` unchanged), "time" (one value per time patch: all its regions and
        bands) or "region" (one value per time patch and region: all its bands).

    Returns
    -------
    torch.Tensor
        (B, N). A unit's value is one of the row's own draws (the k-th unit takes the k-th), so it
        is as random, and as reproducible, as ``noise``.
    """
    if unit == "token":
        return noise
    key = tokens.time_idx.long()
    if unit == "region":
        key = key * (int(tokens.region_idx.max()) + 1) + tokens.region_idx.long()
    elif unit != "time":
        raise ValueError(f"mask unit {unit!r}; allowed: 'token', 'time', 'region'")
    out = noise.clone()
    for b in range(noise.shape[0]):
        real = tokens.mask[b]
        _, inverse = torch.unique(key[b][real], return_inverse=True)  # unit of each real token
        out[b][real] = noise[b][real][inverse]
    return out


def _mix(*xs: int) -> int:
    h = hashlib.blake2b(json.dumps(xs).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 62) - 1)


def _group_ids(keys: list) -> list[int]:
    seen: dict = {}
    return [seen.setdefault(k, len(seen)) for k in keys]


def _ehr_key(r: dict) -> str:
    age = r.get("age")
    age = None if age is None or (isinstance(age, float) and np.isnan(age)) else round(float(age))
    return json.dumps([sorted(_as_list(r.get("diagnoses"))), sorted(_as_list(r.get("medications"))),
                       age, r.get("sex"), r.get("setting")], default=str)


class BatchPlan:
    """Deterministic batches: epoch ``e`` uses permutation ``rng(seed, stage, e)``; a global batch
    of ``batch_size`` rows is split into equal contiguous rank shares."""

    def __init__(self, n: int, batch_size: int, seed: int, world: int = 1):
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} must divide evenly over {world} ranks. Fix: "
                             "use a multiple of the number of processes.")
        self.n = n
        self.batch_size = min(batch_size, n - n % world) if n < batch_size else batch_size
        if self.batch_size < 2:
            raise InvalidCohort(f"only {n} training sessions; contrastive training needs at least "
                                "2 per batch. Fix: use a larger cohort.")
        self.seed = seed
        self.world = world
        self.per_epoch = max(1, n // self.batch_size)

    def steps_for_epochs(self, epochs: float) -> int:
        return max(1, round(epochs * self.per_epoch))

    def global_batch(self, stage: int, step: int) -> np.ndarray:
        epoch, b = divmod(step, self.per_epoch)
        perm = np.random.default_rng(_mix(self.seed, stage, epoch)).permutation(self.n)
        return perm[b * self.batch_size:(b + 1) * self.batch_size]

    def local_batch(self, stage: int, step: int, rank: int) -> np.ndarray:
        g = self.global_batch(stage, step)
        per = len(g) // self.world
        return g[rank * per:(rank + 1) * per]


def clean_reports(texts, text_cfg) -> list[str]:
    """Reports as the text tower sees them (sections kept, whitespace collapsed)."""
    return [preprocess_report(t if isinstance(t, str) else "", text_cfg.sections) for t in texts]


def text_features(clean: list[str], text_cfg, cache_dir, progress: bool = True) -> np.ndarray:
    """Backbone features of preprocessed report texts (or statements), via the on-disk cache."""
    cache = TextFeatureCache(cache_dir, text_cfg.backbone)
    backbone = {}

    def compute(todo: list[str]) -> np.ndarray:
        if "b" not in backbone:
            backbone["b"] = make_backbone(text_cfg)
        from tqdm.auto import tqdm

        out, bs = [], 64
        for s in tqdm(range(0, len(todo), bs), desc="embed report text", unit="batch",
                      disable=not progress):
            out.append(backbone["b"].encode(todo[s:s + bs]))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    return cache.get(clean, compute)


def default_device(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__all__ = [
    "Batch",
    "BatchPlan",
    "PretrainData",
    "clean_reports",
    "default_device",
    "fill_token_cache",
    "mask_noise",
    "select_sessions",
    "text_features",
    "unit_noise",
]
