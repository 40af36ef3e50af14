"""Clinical context of a finding: the other findings its typical causes produce.

A finding's causes are the diagnoses whose EEG signature (``clef.vocabulary.diagnoses``, after
CLINICAL_EEG.md) names it; its context is every other finding those signatures name, counted.
Triphasic waves -> metabolic and hepatic encephalopathy, chronic kidney disease -> generalized
slowing (2), FIRDA (1). Zero-shot search uses the context to place a finding that reports never
named next to the findings that come with it (``clef.text.linking``).
"""
from __future__ import annotations

import re
from functools import cache

from clef.vocabulary.diagnoses import PHENOTYPES
from clef.vocabulary.findings import FINDINGS

_MIN_PHRASE = 4  # shorter synonyms ("lpd") are left out of the signature match


@cache
def _mention(name: str) -> re.Pattern:
    c = next(f for f in FINDINGS if f.name == name)
    words = [w for w in c.phrases if len(w) >= _MIN_PHRASE]
    return re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in words),
                      re.IGNORECASE)


def related_findings(name: str) -> dict[str, int]:
    """Findings that the typical causes of finding ``name`` also produce.

    Parameters
    ----------
    name : str
        A finding of :data:`clef.vocabulary.FINDINGS`.

    Returns
    -------
    dict
        {other finding: number of its causes that name it}, in vocabulary order; empty when no
        diagnosis names ``name`` or its causes name nothing else.
    """
    if name not in {f.name for f in FINDINGS}:
        raise KeyError(f"{name!r} is not a finding of the clinical vocabulary.")
    return dict(_related(name))


@cache
def _related(name: str) -> tuple[tuple[str, int], ...]:
    causes = [p.signature for p in PHENOTYPES if _mention(name).search(p.signature)]
    counts = {f.name: sum(bool(_mention(f.name).search(s)) for s in causes)
              for f in FINDINGS if f.name != name}
    return tuple((k, v) for k, v in counts.items() if v)


__all__ = ["related_findings"]
