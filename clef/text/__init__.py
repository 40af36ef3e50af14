"""Report and query language: statements with polarity, findings summaries, clinician queries.

No torch and no model here: this is the deterministic text pipeline that turns a report into the
statements the model is aligned to (:mod:`clef.text.statements`) and a typed query into prompts
(:mod:`clef.text.queries`).
"""
from clef.text.statements import Statement, findings_summary, split_statements

__all__ = ["Statement", "findings_summary", "split_statements"]
