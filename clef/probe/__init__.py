"""Probing and zero-shot evaluation: task battery, patient-level linear probes, AUROC tables.

Splits (``patient_split``, ``site_split``), metrics (``auroc``, ``bootstrap_auroc``), linear
probes (``fit_probe``), the battery (``probe_tasks``, ``summarize``), zero-shot concept scoring
(``zeroshot_eval``, ``rank_concepts``), task derivation for real cohorts (``derive_tasks``) and
the whole run (``run_probe``, behind ``clef probe``). The report concept extractor lives in the
text pipeline (``clef.text.extract``).
"""
from __future__ import annotations

from clef.probe.battery import (
    BatteryConfig,
    Summary,
    feature_matrix,
    probe_tasks,
    results_long,
    summarize,
)
from clef.probe.derive import derive_tasks, labels_wide, task_info, write_tasks
from clef.probe.linear import LinearProbe, ProbeConfig, fit_probe
from clef.probe.metrics import auroc, bootstrap_auroc
from clef.probe.pipeline import ProbeRunConfig, run_probe
from clef.probe.splits import check_no_leakage, patient_split, site_split
from clef.probe.zeroshot import (
    concept_prompts,
    rank_concepts,
    summarize_zeroshot,
    task_phrases,
    text_encoder,
    zeroshot_eval,
    zeroshot_scores,
)

__all__ = [
    "BatteryConfig", "LinearProbe", "ProbeConfig",
    "ProbeRunConfig", "Summary", "auroc", "bootstrap_auroc", "check_no_leakage",
    "concept_prompts", "derive_tasks", "feature_matrix", "fit_probe", "labels_wide",
    "patient_split", "probe_tasks", "rank_concepts",
    "results_long", "run_probe", "site_split", "summarize", "summarize_zeroshot", "task_info",
    "task_phrases", "text_encoder", "write_tasks", "zeroshot_eval", "zeroshot_scores",
]
