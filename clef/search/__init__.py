"""Search a clinician can trust: report keyword search (BM25) fused with the EEG model, evidence
for every hit, honest scores, report-EEG discordance and few-shot concepts.

=============  ============================================================================
module         what
=============  ============================================================================
keyword        BM25 over each report's affirmed (and, apart, negated) statements
fusion         reciprocal rank fusion with each source's rank; cohort percentiles
trust          query -> task by name/synonym/abbreviation; null distribution; held-out AUROC
evidence       matching report sentences, top minutes vs events, left/right region scores
discordance    EEG high but report silent (or the reverse), precision against truth
fewshot        a logistic probe from marked sessions, saved as a named concept
=============  ============================================================================

Plain numpy/pandas/scikit-learn (torch only inside :func:`region_scores`, through the model it is
given); never Streamlit, never the synthetic generator.
"""
from __future__ import annotations

from clef.search.discordance import (
    DIRECTIONS,
    DiscordancePrecision,
    discordance_precision,
    discordant,
    report_mentions,
)
from clef.search.evidence import (
    EVIDENCE_COLUMNS,
    laterality,
    region_scores,
    statement_evidence,
    timeline_hit,
    top_minutes,
)
from clef.search.fewshot import (
    CONCEPTS_ENV,
    MIN_EXAMPLES,
    FewShotConcept,
    concepts_dir,
    fit_concept,
    list_concepts,
    load_concept,
    save_concept,
)
from clef.search.fusion import RRF_K, SOURCES, fuse, percentile, ranks, single_source
from clef.search.keyword import ReportIndex, query_terms, stem, tokenize
from clef.search.trust import (
    NULL_TEXTS,
    MatchStrength,
    TaskMatch,
    auroc_on,
    is_known_query,
    match_query_task,
    match_strength,
    null_statistics,
    top_lift,
    top_mean,
)

__all__ = [
    "CONCEPTS_ENV", "DIRECTIONS", "EVIDENCE_COLUMNS", "MIN_EXAMPLES", "NULL_TEXTS", "RRF_K",
    "SOURCES", "DiscordancePrecision", "FewShotConcept", "MatchStrength", "ReportIndex",
    "TaskMatch", "auroc_on", "concepts_dir", "discordance_precision", "discordant",
    "fit_concept", "fuse", "is_known_query", "laterality", "list_concepts", "load_concept", "match_query_task",
    "match_strength", "null_statistics", "percentile", "query_terms", "ranks", "region_scores",
    "report_mentions", "save_concept", "single_source", "statement_evidence", "stem",
    "timeline_hit", "tokenize", "top_lift", "top_mean", "top_minutes",
]
