"""Probing and zero-shot evaluation: task battery, patient-level linear probes, AUROC tables."""
from __future__ import annotations

from clef.probe.battery import (
    BatteryConfig,
    Summary,
    feature_matrix,
    probe_tasks,
    results_long,
    summarize,
)
from clef.probe.linear import LinearProbe, ProbeConfig, fit_probe
from clef.probe.metrics import auroc, bootstrap_auroc
from clef.probe.splits import check_no_leakage, patient_split, site_split

__all__ = [
    "BatteryConfig", "LinearProbe", "ProbeConfig", "Summary", "auroc", "bootstrap_auroc",
    "check_no_leakage", "feature_matrix", "fit_probe", "patient_split", "probe_tasks",
    "results_long", "site_split", "summarize",
]
