"""Concept linking: which finding a query names, the side rule, enrichment, and the zero-shot path."""
import numpy as np
import pandas as pd
import pytest

from clef.model.text import HashingBackbone
from clef.probe.semantics import query_set_eval
from clef.probe.zeroshot import concept_embeddings
from clef.text.linking import ConceptLinker, descriptor, phrase_prompts
from clef.text.queries import query_vector
from clef.vocabulary import VOCABULARY


class _Hash:
    """Hashed bag of words: texts sharing words are similar (a stand-in text encoder)."""

    def __init__(self):
        self.bb = HashingBackbone(512)
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        return self.bb.encode(list(texts))


def test_descriptor_is_label_and_signature_and_empty_for_unknown():
    d = descriptor("triphasic_waves")
    assert d.startswith("triphasic waves: ") and "frontal predominance" in d
    assert descriptor("not_a_concept") == ""
    assert phrase_prompts(["a", "b"], ("{}", "x {}"), max_phrases=1) == ["a", "x a"]


def test_link_finds_the_named_finding_and_respects_the_side():
    enc = _Hash()
    linker = ConceptLinker(enc, min_cosine=0.3)
    v = query_vector("left temporal spikes", enc)
    assert linker.link(v, "left temporal spikes")[0] == "ied_left_temporal"
    # the words say "right": a left-sided finding may not be linked, whatever the cosine
    concept, _ = linker.link(linker.concept_vector("ied_left_temporal"), "right temporal spikes")
    assert concept is not None and "left" not in VOCABULARY[concept].label
    assert linker.link(query_vector("banana bread recipe", enc), "banana bread recipe")[0] is None


def test_enrich_adds_the_linked_finding_and_leaves_unlinked_text_alone():
    enc = _Hash()
    linker = ConceptLinker(enc, min_cosine=0.3)
    v = query_vector("burst suppression", enc)
    e = linker.enrich(v, "burst suppression")
    assert abs(np.linalg.norm(e) - 1) < 1e-9
    want = v / np.linalg.norm(v) + linker.concept_vector("burst_suppression")
    assert np.allclose(e, want / np.linalg.norm(want))
    odd = query_vector("banana bread recipe", enc)
    assert np.allclose(linker.enrich(odd, "banana bread recipe"), odd)
    calls = enc.calls
    linker.enrich(v, "burst suppression")
    assert enc.calls == calls  # finding vectors are computed once


def test_negated_linked_query_points_away_from_the_finding():
    enc = _Hash()
    linker = ConceptLinker(enc, min_cosine=0.3)
    pos = query_vector("burst suppression", enc, linker=linker)
    neg = query_vector("no burst suppression", enc, linker=linker)
    c = linker.concept_vector("burst_suppression")
    assert pos @ c > 0.5 and neg @ c < -0.5


def test_descriptors_change_concept_vectors_only_for_vocabulary_findings():
    enc = _Hash()
    plain = concept_embeddings(enc, ["burst_suppression"], descriptors=False)
    rich = concept_embeddings(enc, ["burst_suppression"], descriptors=True)
    assert not np.allclose(plain, rich)
    syn = {"odd": ["odd pattern"]}
    assert np.allclose(concept_embeddings(enc, ["odd"], syn, descriptors=False),
                       concept_embeddings(enc, ["odd"], syn, descriptors=True))


def test_linked_query_set_ranks_planted_sessions_first():
    enc = _Hash()
    findings = ["diffuse slowing", "sleep spindles", "burst suppression", "photic driving"] * 5
    S = enc([f"EEG shows {f}." for f in findings])
    labels = pd.DataFrame({"burst_suppression": [f == "burst suppression" for f in findings]})
    for link in (False, True):
        q = query_set_eval(S, labels.astype(float), {"burst_suppression": ["burst suppression"]},
                           enc, min_pos=2, link=link)
        assert float(q["auroc"].iloc[0]) == pytest.approx(1.0)


def test_linker_cache_round_trip_and_key(tmp_path):
    enc = _Hash()
    a = ConceptLinker(enc, cache_dir=tmp_path, cache_key="tower-1")
    va = a.concept_vector("burst_suppression")
    assert len(list(tmp_path.glob("linker-*.npy"))) == 1
    calls = enc.calls
    b = ConceptLinker(enc, cache_dir=tmp_path, cache_key="tower-1")
    assert np.allclose(b.concept_vector("burst_suppression"), va, atol=1e-6)
    assert enc.calls == calls  # read from the cache, nothing embedded
    ConceptLinker(enc, cache_dir=tmp_path, cache_key="tower-2").concept_vector("burst_suppression")
    assert enc.calls == calls + 1 and len(list(tmp_path.glob("linker-*.npy"))) == 2


def test_text_vector_uses_a_cached_linker_per_model(tmp_path, monkeypatch):
    import torch
    from test_model import tiny_config

    from clef.index.query import concept_linker, text_tower_digest
    from clef.model import CLEFModel

    monkeypatch.setenv("CLEF_CACHE_DIR", str(tmp_path))
    torch.manual_seed(0)
    m = CLEFModel(tiny_config())
    concept_linker.cache_clear()
    lk = concept_linker(m)
    assert concept_linker(m) is lk and lk.cache_key == text_tower_digest(m)
    lk.concept_vector("burst_suppression")
    assert list((tmp_path / "linker").glob("linker-*.npy"))


def test_explain_names_the_linked_finding_and_its_context():
    enc = _Hash()
    linker = ConceptLinker(enc, min_cosine=0.3)
    v = query_vector("triphasic waves", enc)
    words = linker.explain(v, "triphasic waves")
    assert words.startswith("linked to “triphasic waves”")
    assert "clinical context: generalized slowing" in words
    assert "clinical context" not in ConceptLinker(enc, min_cosine=0.3, context_weight=0).explain(
        v, "triphasic waves")
    assert linker.explain(query_vector("banana bread recipe", enc), "banana bread recipe") == ""
