"""EHR tower: diagnoses and medications as learned code embeddings, plus age, sex and setting.

Vocabularies are built from the training cohort (:func:`build_ehr_vocab`) and stored in the model
config. A code outside the vocabulary goes to its field's unknown bucket (index 0).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch
from torch import nn

from clef.model.config import EHRConfig

FIELDS = ("diagnoses", "medications", "age", "sex", "setting")


def _as_list(v) -> list[str]:
    """A cell of a list column (list, tuple, numpy array, None/NaN, or a ';'-joined string)."""
    if v is None:
        return []
    if isinstance(v, float) and math.isnan(v):
        return []
    if isinstance(v, str):
        return [s for s in (p.strip() for p in v.replace(",", ";").split(";")) if s]
    return [str(s) for s in list(v) if s is not None and str(s).strip()]


def dx_tokens(code: str, prefixes: bool = True) -> list[str]:
    """ICD-10 code -> tokens: the code and, with ``prefixes``, its shorter parents.

    ``"G40.A09"`` -> ``["G40.A09", "G40.A", "G40"]``; ``"I63"`` -> ``["I63"]``.
    """
    c = code.strip().upper()
    if not c:
        return []
    out = [c]
    if prefixes and "." in c:
        head, tail = c.split(".", 1)
        if len(tail) > 1:
            out.append(f"{head}.{tail[0]}")
        out.append(head)
    return out


def med_tokens(name: str) -> list[str]:
    n = " ".join(name.strip().lower().split())
    return [n] if n else []


def records_from(records) -> list[dict]:
    """A DataFrame or a list of dicts -> list of dicts with the EHR fields."""
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        cols = [c for c in FIELDS if c in records.columns]
        records = records[cols].to_dict("records")
    if isinstance(records, dict):
        records = [records]
    out = []
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise TypeError(f"EHR record {i} is a {type(r).__name__}; expected a dict with keys "
                            f"{FIELDS}. Fix: pass a list of dicts or a DataFrame.")
        out.append(r)
    return out


def build_ehr_vocab(records, min_count: int = 2, prefixes: bool = True):
    """Diagnosis and medication vocabularies seen in at least ``min_count`` records.

    Returns (dx_vocab, med_vocab), sorted lists.
    """
    dx, med = Counter(), Counter()
    for r in records_from(records):
        dx.update({t for c in _as_list(r.get("diagnoses")) for t in dx_tokens(c, prefixes)})
        med.update({t for m in _as_list(r.get("medications")) for t in med_tokens(m)})
    return (sorted(k for k, n in dx.items() if n >= min_count),
            sorted(k for k, n in med.items() if n >= min_count))


class EHRTower(nn.Module):
    """EHR records -> (n, embed_dim).

    Features: mean code embedding of diagnoses, mean of medications (EmbeddingBag; index 0 is the
    unknown bucket; an empty list gives zeros), and numbers [age/100, age missing, F, M, sex
    missing, one-hot setting (+unknown), log1p(#diagnoses), log1p(#medications)] -> MLP.
    """

    def __init__(self, cfg: EHRConfig, embed_dim: int):
        super().__init__()
        self.cfg = cfg
        self.dx_index = {c: i + 1 for i, c in enumerate(cfg.dx_vocab)}
        self.med_index = {c: i + 1 for i, c in enumerate(cfg.med_vocab)}
        self.settings = list(cfg.settings)
        self.dx = nn.EmbeddingBag(len(cfg.dx_vocab) + 1, cfg.code_dim, mode="mean")
        self.med = nn.EmbeddingBag(len(cfg.med_vocab) + 1, cfg.code_dim, mode="mean")
        nn.init.normal_(self.dx.weight, std=0.1)
        nn.init.normal_(self.med.weight, std=0.1)
        self.n_num = 5 + len(self.settings) + 1 + 2
        self.mlp = nn.Sequential(nn.Linear(2 * cfg.code_dim + self.n_num, cfg.hidden), nn.GELU(),
                                 nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(),
                                 nn.Linear(cfg.hidden, embed_dim))

    def featurize(self, records) -> dict[str, torch.Tensor]:
        """Records -> index tensors and numeric features (CPU)."""
        recs = records_from(records)
        dxi, dxo, mdi, mdo = [], [], [], []
        num = np.zeros((len(recs), self.n_num), np.float32)
        for i, r in enumerate(recs):
            codes = [self.dx_index.get(t, 0) for c in _as_list(r.get("diagnoses"))
                     for t in dx_tokens(c, self.cfg.prefixes)]
            meds = [self.med_index.get(t, 0) for m in _as_list(r.get("medications"))
                    for t in med_tokens(m)]
            dxo.append(len(dxi))
            dxi.extend(codes)
            mdo.append(len(mdi))
            mdi.extend(meds)
            age = r.get("age")
            try:
                age = float(age)
            except (TypeError, ValueError):
                age = float("nan")
            if math.isnan(age):
                num[i, 1] = 1.0
            else:
                num[i, 0] = age / 100.0
            sex = str(r.get("sex") or "").strip().upper()[:1]
            num[i, 2 if sex == "F" else 3 if sex == "M" else 4] = 1.0
            setting = str(r.get("setting") or "").strip().lower()
            j = self.settings.index(setting) if setting in self.settings else len(self.settings)
            num[i, 5 + j] = 1.0
            num[i, -2] = math.log1p(len(_as_list(r.get("diagnoses"))))
            num[i, -1] = math.log1p(len(_as_list(r.get("medications"))))
        return {"dx_idx": torch.tensor(dxi, dtype=torch.long),
                "dx_off": torch.tensor(dxo, dtype=torch.long),
                "med_idx": torch.tensor(mdi, dtype=torch.long),
                "med_off": torch.tensor(mdo, dtype=torch.long),
                "num": torch.from_numpy(num)}

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        dev = self.dx.weight.device
        f = {k: v.to(dev) for k, v in feats.items()}
        x = torch.cat([self.dx(f["dx_idx"], f["dx_off"]), self.med(f["med_idx"], f["med_off"]),
                       f["num"]], dim=-1)  # (n, 2*code_dim + n_num)
        return self.mlp(x)
