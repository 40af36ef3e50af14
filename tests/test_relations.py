"""Clinical context: the findings a finding's typical causes produce, and how search uses them."""
import numpy as np
import pytest

from clef.model.text import HashingBackbone
from clef.probe.zeroshot import concept_embeddings
from clef.text.linking import ConceptLinker, with_context
from clef.vocabulary import FINDING_NAMES
from clef.vocabulary.relations import related_findings


def test_related_findings_follow_the_diagnoses_signatures():
    # metabolic / hepatic encephalopathy name generalized slowing; metabolic also FIRDA
    assert related_findings("triphasic_waves") == {"generalized_slowing": 2, "firda": 1}
    assert "triphasic_waves" in related_findings("firda")
    assert related_findings("normal_pdr") == {}  # no diagnosis names it
    for name in FINDING_NAMES:
        assert name not in related_findings(name)
    with pytest.raises(KeyError, match="not a finding"):
        related_findings("cefepime")


def test_with_context_moves_a_finding_towards_its_related_findings():
    names = ["triphasic_waves", "generalized_slowing", "firda", "normal_pdr"]
    v = np.eye(4)  # orthogonal unit vectors, one per finding
    out = with_context(names, v, weight=1.0)
    assert np.allclose(np.linalg.norm(out, axis=1), 1)
    ctx = (2 * v[1] + v[2]) / np.sqrt(5)
    want = (v[0] + ctx) / np.linalg.norm(v[0] + ctx)
    assert np.allclose(out[0], want)
    assert np.allclose(out[3], v[3])  # nothing related: unchanged
    assert np.allclose(with_context(names, v, weight=0.0), v)
    # a related finding that is not among the rows is left out of the context
    part = with_context(["triphasic_waves", "firda"], np.eye(2), weight=1.0)
    assert np.allclose(part[0], np.array([1.0, 1.0]) / np.sqrt(2))


def test_context_reaches_zero_shot_and_the_linker_alike():
    bb = HashingBackbone(512)

    def enc(texts):
        return bb.encode(list(texts))

    plain = concept_embeddings(enc, ["triphasic_waves", "normal_pdr"], context_weight=0.0)
    ctx = concept_embeddings(enc, ["triphasic_waves", "normal_pdr"])
    slow = concept_embeddings(enc, ["generalized_slowing"], context_weight=0.0)[0]
    assert ctx[0] @ slow > plain[0] @ slow + 0.05
    assert np.allclose(ctx[1], plain[1])  # no context for normal_pdr
    linker = ConceptLinker(enc)
    off = ConceptLinker(enc, context_weight=0.0)
    assert (linker.concept_vector("triphasic_waves") @ off.concept_vector("generalized_slowing")
            > off.concept_vector("triphasic_waves") @ off.concept_vector("generalized_slowing"))
