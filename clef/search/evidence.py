"""Evidence for a hit: the report sentences that match the query (affirmed or negated), which
minutes of the recording match it, and which regions (left/right) carry it."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clef.search.keyword import query_terms, statement_terms
from clef.text.statements import split_statements

EVIDENCE_COLUMNS = ("section", "text", "polarity", "certainty", "match", "matched_terms")


def statement_evidence(report: str | None, query: str) -> pd.DataFrame:
    """The report's findings and impression as statements, marked against a query.

    Parameters
    ----------
    report : str or None
    query : str
        Free text (abbreviations expanded as in search).

    Returns
    -------
    pd.DataFrame
        One row per statement (``EVIDENCE_COLUMNS``): ``polarity`` "affirmed"/"negated",
        ``certainty`` "certain"/"hedged", ``match`` True when at least half of the query's words
        (at least one) occur in the statement, ``matched_terms`` those words.
    """
    try:
        terms = set(query_terms(query)[0])
    except Exception:  # noqa: BLE001 - an unreadable query matches nothing; the report still shows
        terms = set()
    rows = []
    for s in split_statements(report):
        hit = sorted(terms & set(statement_terms(s.text)))
        match = bool(hit) and len(hit) >= max(1, math.ceil(len(terms) / 2))
        rows.append((s.section, s.text, s.polarity, s.certainty, match, ", ".join(hit)))
    return pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))


def top_minutes(timeline: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` best-scoring time patches of a concept timeline, best first.

    Parameters
    ----------
    timeline : pd.DataFrame
        From :func:`clef.explore.concept_timeline` (``time_patch``, ``start_min``, ``score``).
    n : int

    Returns
    -------
    pd.DataFrame
        The same columns, ``n`` rows at most.
    """
    return timeline.nlargest(int(n), "score").reset_index(drop=True)


def timeline_hit(timeline: pd.DataFrame, events, patch_s: float, n: int = 3
                 ) -> tuple[bool, float]:
    """Whether a timeline's top ``n`` patches land on a ground-truth event, and the chance of that.

    Parameters
    ----------
    timeline : pd.DataFrame
        A concept timeline (``time_patch``, ``score``).
    events : sequence of (onset_s, duration_s)
        Ground-truth event intervals (e.g. the synthetic oracle's).
    patch_s : float
        Seconds per time patch.
    n : int

    Returns
    -------
    hit : bool
        Any of the top ``n`` patches overlaps an event.
    chance : float
        Probability that ``n`` patches drawn at random (without replacement) hit.
    """
    ev = [(float(a), float(a) + max(float(d), 1e-9)) for a, d in events]

    def overlaps(p: int) -> bool:
        lo, hi = p * patch_s, (p + 1) * patch_s
        return any(a < hi and lo < b for a, b in ev)

    patches = timeline["time_patch"].astype(int).tolist()
    on = [overlaps(p) for p in patches]
    top = top_minutes(timeline, n)["time_patch"].astype(int).tolist()
    hit = any(overlaps(p) for p in top)
    total, miss, k = len(patches), len(patches) - sum(on), min(int(n), len(patches))
    chance = 1.0 - (math.comb(miss, k) / math.comb(total, k) if total and k else 1.0)
    return hit, chance


def region_scores(model, session, text_vector) -> pd.DataFrame:
    """How strongly each channel region of a session matches a query (left/right evidence).

    Each region's tokens are pooled on their own by the model's attention pool, projected into
    the shared space and compared (cosine) with the query vector.

    Parameters
    ----------
    model : clef.model.CLEFModel
    session : clef.session.Session or array
        One recording (tokenized with the model's tokenizer).
    text_vector : array-like
        (D,) unit query vector.

    Returns
    -------
    pd.DataFrame
        ``region``, ``side`` ("left", "right" or "midline"), ``score``, ``vs_whole``
        (region score minus the whole-session score); empty for models without an attention
        pool (reconstruction-only).
    """
    import torch

    cols = ["region", "side", "score", "vs_whole"]
    if getattr(model.config, "eeg_output", "shared") == "mean":
        return pd.DataFrame(columns=cols)
    t = torch.as_tensor(np.asarray(text_vector, dtype=np.float32).reshape(-1))
    tok = model.tokenizer.tokenize([session]).to(model.device)
    with torch.no_grad():
        z, states = model.encode_eeg(tok, normalize=True, return_states=True)
        whole = float(z[0].float().cpu() @ t)
        rows = []
        for r, name in enumerate(model.tokenizer.region_names):
            mask = tok.mask & (tok.region_idx == r)
            if not bool(mask.any()):
                continue
            v = torch.nn.functional.normalize(model.pool_project(states, tok, mask), dim=-1)
            s = float(v[0].float().cpu() @ t)
            side = ("left" if "left" in name.lower() else "right" if "right" in name.lower()
                    else "midline")
            rows.append((name, side, s, s - whole))
    return pd.DataFrame(rows, columns=cols)


def laterality(regions: pd.DataFrame) -> str:
    """One line on left vs right from :func:`region_scores` ("" when not both sides present)."""
    if regions is None or len(regions) == 0:
        return ""
    side = regions.groupby("side")["score"].mean()
    if "left" not in side or "right" not in side:
        return ""
    d = float(side["left"] - side["right"])
    which = "left" if d > 0 else "right"
    return (f"{which} regions match better (left {side['left']:.3f} vs right "
            f"{side['right']:.3f}, difference {abs(d):.3f})")


__all__ = ["EVIDENCE_COLUMNS", "laterality", "region_scores", "statement_evidence",
           "timeline_hit", "top_minutes"]
