"""Concept linking: a query (or a concept) also carries its finding's EEG description.

Sentence encoders know words, not EEG: "L temporal delta" lands between FIRDA and focal slowing.
A search vector is therefore enriched with the finding it names: the query is linked to the
nearest finding of the clinical vocabulary (cosine of the query vector with each finding's
phrase ensemble, never across sides: a left query is not linked to a right finding), and that
finding's vector, its phrases plus its description ``"<label>: <EEG signature>"`` (the same
text as ``CLINICAL_EEG.md``), is added. As descriptor prompts for CLIP zero-shot classification
(Menon & Vondrick 2023), the descriptions carry what the finding looks like, which the aligned
EEG space reflects. A finding's vector also carries its clinical context
(:func:`clef.vocabulary.relations.related_findings`: the findings its typical causes produce, so
"triphasic waves" sits near generalized slowing and FIRDA). ``benchmarks/results/
semantics_linking.md`` has the measured effect of each part.
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from clef.fileio import atomic_save_npy
from clef.text.queries import TEMPLATES_NEUTRAL, polar_antonyms, prompt_vector

LINK_MIN_COSINE = 0.6  # below this a query is left as typed (chosen on the training split)
MAX_PHRASES = 6  # phrases per finding in its prompt ensemble (longest first)
CONTEXT_WEIGHT = 1.0  # weight of a finding's clinical context (chosen on the training split)
_LEFT = re.compile(r"(?<![\w-])left(?![\w-])", re.IGNORECASE)
_RIGHT = re.compile(r"(?<![\w-])right(?![\w-])", re.IGNORECASE)

# Finding groups a generic query may name ("spikes", "focal slowing"): linked to the group's
# phrases, without any one member's description.
LINK_GROUPS = ("any_epileptiform", "focal_slowing_any")

Encode = Callable[[list[str]], np.ndarray]  # n texts -> (n, d)


def descriptor(concept: str) -> str:
    """``"<label>: <EEG signature>"`` of a vocabulary finding (``""`` when it has none)."""
    from clef.vocabulary import VOCABULARY

    c = VOCABULARY.get(concept)
    return f"{c.label}: {c.signature}" if c is not None and c.signature else ""


def phrase_prompts(phrases: Sequence[str], templates: Sequence[str] = TEMPLATES_NEUTRAL,
                   max_phrases: int = MAX_PHRASES) -> list[str]:
    """Each of the first ``max_phrases`` phrases in each template."""
    return [t.format(p) for p in list(phrases)[:max_phrases] for t in templates]


def _sides(text: str) -> set[str]:
    return {s for s, rx in (("left", _LEFT), ("right", _RIGHT)) if rx.search(text)}


def _unit(v: np.ndarray) -> np.ndarray:
    """``v`` (a vector, or rows) scaled to unit L2 norm (zero stays zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def with_context(concepts: Sequence[str], vectors: np.ndarray,
                 weight: float = CONTEXT_WEIGHT) -> np.ndarray:
    """Add each finding's clinical context to its vector.

    Parameters
    ----------
    concepts : sequence of str
        Row names of ``vectors``; rows that are not vocabulary findings are left as they are.
    vectors : np.ndarray, shape (k, d)
        Unit concept vectors; a related finding's own row is used when it is among ``concepts``.
    weight : float
        Weight of the unit context vector (the count-weighted sum of the related findings'
        vectors, :func:`clef.vocabulary.relations.related_findings`); 0 turns it off.

    Returns
    -------
    np.ndarray, shape (k, d)
        Unit rows ``unit(v + weight * unit(context))``.
    """
    from clef.vocabulary import FINDING_NAMES
    from clef.vocabulary.relations import related_findings

    row = {c: i for i, c in enumerate(concepts)}
    out = np.array(vectors, dtype=np.float64)
    for i, c in enumerate(concepts):
        rel = related_findings(c) if weight and c in FINDING_NAMES else {}
        rel = {m: k for m, k in rel.items() if m in row}
        if rel:
            ctx = sum(k * vectors[row[m]] for m, k in rel.items())
            out[i] = vectors[i] + weight * _unit(ctx)
    return _unit(out)


class ConceptLinker:
    """Links text to vocabulary findings and builds description-enriched vectors.

    Parameters
    ----------
    encode : callable
        list of str -> (n, d) text embeddings (the model's text tower).
    concepts : sequence of str, optional
        Findings that can be linked (default: every finding of :mod:`clef.vocabulary`).
    min_cosine : float
        A query whose best finding is less similar than this is not enriched.
    cache_dir, cache_key : path and str, optional
        With both, the embedded texts are kept in ``cache_dir`` under a name derived from
        ``cache_key`` (which must identify the text encoder, e.g. a digest of its weights) and
        the texts, so a restart does not embed them again.

    Notes
    -----
    The finding vectors are computed on first use (one batch per finding) and kept.
    """

    def __init__(self, encode: Encode, concepts: Sequence[str] | None = None,
                 min_cosine: float = LINK_MIN_COSINE,
                 cache_dir=None, cache_key: str = "", context_weight: float = CONTEXT_WEIGHT):
        from clef.vocabulary import AGGREGATE_PHRASES, VOCABULARY

        groups = {g: p for g, p in AGGREGATE_PHRASES.items() if g in LINK_GROUPS}
        if concepts is None:
            concepts = [n for n, c in VOCABULARY.items() if c.category == "finding"] + list(groups)
        self.encode = encode
        self.concepts = list(concepts)
        self.min_cosine = float(min_cosine)
        self.context_weight = float(context_weight)
        self.cache_dir, self.cache_key = cache_dir, str(cache_key)
        self._phrases = {c: groups[c] if c in groups else VOCABULARY[c].phrases
                         for c in self.concepts}
        self._sides = {c: set() if c in groups else _sides(VOCABULARY[c].label)
                       for c in self.concepts}
        self._base: np.ndarray | None = None  # (k, d) phrase ensembles
        self._full: np.ndarray | None = None  # (k, d) phrases + description

    def _texts(self) -> tuple[dict, list[str], list[str]]:
        """Prompts per concept, descriptions per concept ("" for groups), every text to embed."""
        prompts = {c: phrase_prompts(self._phrases[c]) for c in self.concepts}
        texts = list(dict.fromkeys(p for ps in prompts.values() for p in ps))
        texts += polar_antonyms(texts)
        descs = [descriptor(c) for c in self.concepts]
        return prompts, descs, texts + [d for d in descs if d]

    def _cache_file(self, texts: list[str]) -> Path | None:
        if not (self.cache_dir and self.cache_key):
            return None
        h = hashlib.sha256(json.dumps([self.cache_key, texts]).encode()).hexdigest()[:20]
        return Path(self.cache_dir) / f"linker-{h}.npy"

    def _embed_all(self, texts: list[str]) -> np.ndarray:
        """(n, d) embeddings of ``texts``, read from / written to the cache when it has a key."""
        path = self._cache_file(texts)
        if path is not None and path.exists():
            e = np.load(path, allow_pickle=False)
            if e.shape[0] == len(texts):
                return e.astype(np.float64)
        e = self._enc(texts)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_save_npy(path, e.astype(np.float32))
            except OSError as err:  # a read-only cache only costs the next start these seconds
                warnings.warn(f"could not keep the concept-linking cache at {path} ({err}). Fix: "
                              "set CLEF_CACHE_DIR to a writable folder.", stacklevel=2)
        return e

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        if self._base is None:
            prompts, descs, texts = self._texts()
            table = dict(zip(texts, self._embed_all(texts)))  # one batch for every text

            def lookup(ts):
                return np.stack([table[t] for t in ts])

            base = np.stack([prompt_vector(prompts[c], lookup) for c in self.concepts])  # (k, d)
            desc = np.stack([table[d] if d else np.zeros(base.shape[1]) for d in descs])
            self._base = base
            self._full = with_context(self.concepts, _unit(base + _unit(desc)),
                                      self.context_weight)
        return self._base, self._full

    def _enc(self, texts: list[str]) -> np.ndarray:
        e = np.asarray(self.encode(list(texts)), dtype=np.float64)
        if e.shape[0] != len(texts):
            raise ValueError(f"text encoder returned {e.shape[0]} embeddings for {len(texts)} "
                             "texts.")
        return e

    def prepare(self) -> ConceptLinker:
        """Embed the vocabulary now (e.g. while an app loads) instead of on the first query."""
        self._vectors()
        return self

    def concept_vector(self, concept: str) -> np.ndarray:
        """(d,) unit vector of a finding: its phrase ensemble plus its description (a group:
        its phrase ensemble)."""
        return self._vectors()[1][self.concepts.index(concept)].copy()

    def link(self, vector: np.ndarray, text: str = "") -> tuple[str | None, float]:
        """The finding nearest to a query vector, and its cosine; ``(None, cos)`` below
        ``min_cosine``. Findings of the side opposite to the one ``text`` names are skipped."""
        base, _ = self._vectors()
        cos = base @ _unit(np.asarray(vector, dtype=np.float64))  # (k,)
        sides = _sides(text)
        ok = np.array([not (s and sides and not s & sides) for s in
                       (self._sides[c] for c in self.concepts)])
        cos = np.where(ok, cos, -np.inf)
        j = int(np.argmax(cos))
        best = float(cos[j])
        return (self.concepts[j], best) if best >= self.min_cosine else (None, best)

    def explain(self, vector: np.ndarray, text: str = "") -> str:
        """What :meth:`enrich` adds to this query, in words (``""`` when nothing is linked)."""
        from clef.vocabulary import AGGREGATE_PHRASES, VOCABULARY
        from clef.vocabulary.relations import related_findings

        concept, cos = self.link(vector, text)
        if concept is None:
            return ""
        if concept in AGGREGATE_PHRASES:
            return f"linked to the finding group “{AGGREGATE_PHRASES[concept][0]}” (cosine {cos:.2f})"
        out = f"linked to “{VOCABULARY[concept].label}” (cosine {cos:.2f}) and its EEG description"
        ctx = [VOCABULARY[m].label for m in related_findings(concept) if m in self.concepts]
        if ctx and self.context_weight:
            out += f"; clinical context: {', '.join(ctx)}"
        return out

    def enrich(self, vector: np.ndarray, text: str = "") -> np.ndarray:
        """``unit(vector + concept_vector(linked))``, or ``vector`` when nothing is linked."""
        concept, _ = self.link(vector, text)
        if concept is None:
            return np.asarray(vector, dtype=np.float64)
        return _unit(_unit(np.asarray(vector, dtype=np.float64)) + self.concept_vector(concept))


__all__ = ["CONTEXT_WEIGHT", "LINK_GROUPS", "LINK_MIN_COSINE", "ConceptLinker", "descriptor",
           "phrase_prompts", "with_context"]
