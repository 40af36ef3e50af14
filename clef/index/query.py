"""Query vectors for a session index: free text (:func:`text_vector`), steering (:func:`steer`)."""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clef.embedding import check_unit_norm, unit_normalize
from clef.errors import InvalidQuery

if TYPE_CHECKING:
    from clef.index.session_index import SessionIndex


def text_vector(text: str, model, index: SessionIndex | None = None) -> np.ndarray:
    """The (D,) unit search vector of a free-text query (:func:`clef.text.queries.query_vector`:
    abbreviations expanded, prompt ensemble, linked to its finding's EEG description
    (:func:`concept_linker`), "no X" points away from X); ``InvalidQuery`` for empty or
    unreadable text.

    With ``index``, the model must be the one the index was built with.
    """
    from clef.text.queries import query_vector

    if not isinstance(text, str) or not text.strip():
        raise InvalidQuery("the text query is empty. Fix: type a concept such as "
                           "'left temporal sharp waves'.")
    if index is not None:
        index.check_model(model)

    linker = concept_linker(model)
    v = query_vector(text, linker.encode, linker=linker)
    return check_unit_norm(v.reshape(1, -1), "text vector")[0]


def describe_query(text: str, model) -> str:
    """How a free-text query is read, in one line for the user: the expanded words, a negation,
    and the finding it is linked to (``""`` when it is taken as typed).

    Parameters
    ----------
    text : str
        The query as typed.
    model : CLEFModel
        The model whose text tower embeds it.

    Returns
    -------
    str
    """
    from clef.text.queries import parse_query, prompt_vector, query_prompts

    q = parse_query(text)
    linker = concept_linker(model)
    parts = []
    if q.core.lower() != q.text.lower():
        parts.append(f"read as “{q.core}”")
    if q.negated:
        parts.append("negated: sessions least like it rank first")
    link = linker.explain(prompt_vector(query_prompts(q), linker.encode), q.core)
    if link:
        parts.append(link)
    return ("Query " + "; ".join(parts) + ".") if parts else ""


@functools.lru_cache(maxsize=4)
def concept_linker(model):
    """The model's :class:`clef.text.linking.ConceptLinker` (finding vectors computed once)."""
    from clef.text.linking import ConceptLinker

    def encode(texts):
        v = model.encode_text(list(texts), normalize=True, preprocess=False)  # (n, D)
        return v.detach().float().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

    return ConceptLinker(encode, cache_dir=linker_cache_dir(), cache_key=text_tower_digest(model))


def linker_cache_dir() -> Path:
    """Where embedded vocabulary texts are kept: ``$CLEF_CACHE_DIR/linker`` (default
    ``~/.cache/clef/linker``)."""
    root = os.environ.get("CLEF_CACHE_DIR") or Path.home() / ".cache" / "clef"
    return Path(root) / "linker"


def text_tower_digest(model) -> str:
    """A digest of what maps text to the shared space: backbone name and text-tower weights
    (``""``, so nothing is kept on disk, for a model without a text tower module)."""
    if not hasattr(getattr(model, "text", None), "state_dict"):
        return ""
    h = hashlib.sha256(str(getattr(getattr(model, "config", None), "text", "")).encode())
    for name, t in sorted(model.text.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def steer(vector, concept, weight: float, model=None) -> np.ndarray:
    """"Like this one, but with (weight > 0) / without (weight < 0) <concept>".

    Parameters
    ----------
    vector : array (D,)
        A session embedding.
    concept : str or array (D,)
        Concept text (embedded with ``model.encode_text``) or a concept vector.
    weight : float
        How far to move along the concept direction (cosine units; 0.3-1 is typical).
    model : CLEFModel, optional
        Needed when ``concept`` is text.

    Returns
    -------
    np.ndarray
        (D,) unit vector ``normalize(v + weight * c)`` with v and c normalised.
    """
    v = unit_normalize(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
    if isinstance(concept, str):
        if model is None:
            raise InvalidQuery("steering by concept text needs the model. Fix: pass model=.")
        c = text_vector(concept, model)  # unit norm already
    else:
        c = unit_normalize(np.asarray(concept, dtype=np.float32).reshape(1, -1))[0]
    if c.shape != v.shape:
        raise InvalidQuery(f"concept vector has dimension {c.shape[0]}, session vector "
                           f"{v.shape[0]}. Fix: use the same model for both.")
    out = v + float(weight) * c
    if not np.any(out):
        raise InvalidQuery("steering cancelled the vector out (weight too large). Fix: use a "
                           "smaller |weight|.")
    return unit_normalize(out[None, :])[0]
