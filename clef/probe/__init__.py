"""Probing and zero-shot evaluation: task battery, patient-level linear probes, AUROC tables.

Splits (``patient_split``, ``site_split``), metrics (``auroc``, ``bootstrap_auroc``), linear
probes (``fit_probe``), the battery (``probe_tasks``, ``summarize``), zero-shot concept scoring
(``zeroshot_eval``, ``rank_concepts``), task derivation for real cohorts (``derive_tasks``) and
the whole run (``run_probe``, behind ``clef probe``). The report concept extractor lives in the
text pipeline (``clef.text.extract``).
"""
from __future__ import annotations

import importlib

# name -> submodule: imported on first use, so `clef cohort build` (which only derives tasks)
# does not pay for scikit-learn and the probe runner (~2 s of start-up)
_EXPORTS = {
    **dict.fromkeys(("BatteryConfig", "Summary", "feature_matrix", "probe_tasks",
                     "results_long", "summarize"), "battery"),
    **dict.fromkeys(("derive_tasks", "labels_wide", "task_info", "write_tasks"), "derive"),
    **dict.fromkeys(("LinearProbe", "ProbeConfig", "fit_probe"), "linear"),
    **dict.fromkeys(("auroc", "bootstrap_auroc"), "clef.metrics"),  # shared with clef.search
    **dict.fromkeys(("ProbeRunConfig", "run_probe"), "pipeline"),
    **dict.fromkeys(("check_no_leakage", "patient_split", "site_split"), "splits"),
    **dict.fromkeys(("concept_prompts", "rank_concepts", "summarize_zeroshot", "task_phrases",
                     "text_encoder", "zeroshot_eval", "zeroshot_scores"), "zeroshot"),
}
__all__ = [
    "BatteryConfig", "LinearProbe", "ProbeConfig",
    "ProbeRunConfig", "Summary", "auroc", "bootstrap_auroc", "check_no_leakage",
    "concept_prompts", "derive_tasks", "feature_matrix", "fit_probe", "labels_wide",
    "patient_split", "probe_tasks", "rank_concepts",
    "results_long", "run_probe", "site_split", "summarize", "summarize_zeroshot", "task_info",
    "task_phrases", "text_encoder", "write_tasks", "zeroshot_eval", "zeroshot_scores",
]  # the keys of _EXPORTS (tests/test_architecture.py)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'clef.probe' has no attribute {name!r}")
    module = _EXPORTS[name]
    module = module if module.startswith("clef.") else f"clef.probe.{module}"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

