"""Synthetic clinical EEG cohort generator: teaching and benchmark data with known ground truth.

Public API: :func:`generate_cohort`, :func:`regenerate_session`, :func:`example`,
``ONTOLOGY`` / :func:`concepts`, ``TASKS``, ``SITES``.
"""
from clef.synth.cohort import GENERATOR_VERSION, generate_cohort, regenerate_session
from clef.synth.examples import example
from clef.synth.ontology import ONTOLOGY, Concept, concepts
from clef.synth.plan import make_session_id, parse_session_id, plan_session
from clef.synth.sites import SITES
from clef.synth.tasks import TASKS

__all__ = [
    "GENERATOR_VERSION", "ONTOLOGY", "SITES", "TASKS", "Concept", "concepts", "example",
    "generate_cohort", "make_session_id", "parse_session_id", "plan_session", "regenerate_session",
]
