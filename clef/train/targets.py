"""Findings-level text targets for stage 2: each training session's affirmed report statements
and findings summary (positives) and its negated statements (explicit negatives).

Statements are embedded once by the frozen backbone (on-disk cache); each step samples a few
statements per session, as a pure function of (seed, stage, step, row) so a resumed run sees the
same targets as an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch

from clef.text.linking import descriptor
from clef.text.statements import findings_summary, split_statements


class _Describer:
    """Affirmed statements -> EEG descriptions of the vocabulary findings they name."""

    def __init__(self):
        from clef.text.extract import ConceptExtractor

        self.extractor = ConceptExtractor(sections=False)

    def __call__(self, statements) -> list[str]:
        names = [m.concept for s in statements if s.affirmed
                 for m in self.extractor.extract(s.text) if m.status != "negative"]
        return [d for d in dict.fromkeys(descriptor(c) for c in names) if d]


def _rng(*xs: int) -> np.random.Generator:
    h = hashlib.blake2b(json.dumps(xs).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(h, "little"))


@dataclass
class TextTargets:
    """Statements of the training sessions.

    Attributes
    ----------
    texts : list of str
        Unique statement texts (summaries included); ``feats`` rows follow this order.
    feats : torch.Tensor
        (n_texts, feat_dim) frozen backbone features.
    affirmed : list of np.ndarray
        Per session: ids of its affirmed statements, its summary id last (empty without one).
    negated : list of np.ndarray
        Per session: ids of its negated statements.
    summaries : list of str
        Per session: the findings summary ("" when the report affirms nothing).
    """

    texts: list[str]
    feats: torch.Tensor
    affirmed: list[np.ndarray]
    negated: list[np.ndarray]
    summaries: list[str]

    @classmethod
    def from_reports(cls, reports, encode, describe: bool = False) -> TextTargets:
        """Split ``reports`` into statements and embed the unique ones with ``encode``
        (list of str -> (n, feat_dim) array).

        With ``describe``, each vocabulary finding an affirmed statement names also gives its
        EEG description (:func:`clef.text.linking.descriptor`) as one more positive."""
        ids: dict[str, int] = {}
        affirmed, negated, summaries = [], [], []
        described = _Describer() if describe else None
        for r in reports:
            st = split_statements(r if isinstance(r, str) else "")
            summary = findings_summary(st)
            aff = [ids.setdefault(s.text, len(ids)) for s in st if s.affirmed]
            if described is not None:
                aff += [ids.setdefault(d, len(ids)) for d in described(st)]
            if summary and summary not in {s.text for s in st}:
                aff.append(ids.setdefault(summary, len(ids)))
            elif summary:  # one affirmed statement: it is its own summary
                aff.append(aff[-1])
            affirmed.append(np.asarray(aff, np.int64))
            negated.append(np.asarray([ids.setdefault(s.text, len(ids)) for s in st
                                       if not s.affirmed], np.int64))
            summaries.append(summary)
        texts = list(ids)
        feats = torch.from_numpy(np.ascontiguousarray(encode(texts), np.float32)) if texts else \
            torch.zeros(0, 0)
        return cls(texts, feats, affirmed, negated, summaries)

    def sample(self, rows, k: int, negatives: bool, seed: int, stage: int, step: int):
        """Text pool and positive mask for one batch.

        Parameters
        ----------
        rows : sequence of int
            Dataset rows of the batch.
        k : int
            Affirmed statements sampled per session (the summary is always in).
        negatives : bool
            Add one negated statement per session (a text with no positive session).

        Returns
        -------
        feats : torch.Tensor
            (M, feat_dim) features of the pool.
        pos : torch.Tensor
            (B, M) bool: text j is one of session b's affirmed statements or its summary.
        """
        chosen: list[int] = []
        for i in rows:
            i = int(i)
            rng = _rng(seed, stage, step, i, 1)
            aff = self.affirmed[i]
            if len(aff):
                body = aff[:-1]
                pick = rng.choice(body, size=min(k, len(body)), replace=False) if len(body) \
                    else body
                chosen.extend(int(x) for x in pick)
                chosen.append(int(aff[-1]))
            if negatives and len(self.negated[i]):
                chosen.append(int(rng.choice(self.negated[i])))
        pool = list(dict.fromkeys(chosen))  # unique, first-seen order
        col = {t: j for j, t in enumerate(pool)}
        pos = torch.zeros(len(rows), len(pool), dtype=torch.bool)
        for b, i in enumerate(rows):
            for t in set(self.affirmed[int(i)].tolist()):
                j = col.get(t)
                if j is not None:
                    pos[b, j] = True
        return self.feats[torch.as_tensor(pool, dtype=torch.long)], pos


__all__ = ["TextTargets"]
