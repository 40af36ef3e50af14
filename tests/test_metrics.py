"""clef.metrics against scipy: the Mann-Whitney U test from ranks made once per table."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from clef.metrics import mannwhitney_split, rank_values


@pytest.mark.parametrize("seed", range(6))
def test_mannwhitney_split_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    # integers: many ties (ages); floats: none; some missing
    values = (rng.integers(0, 90, n).astype(float) if seed % 2 else rng.normal(size=n))
    values[rng.random(n) < 0.1] = np.nan
    ranked = rank_values(values)
    finite = np.isfinite(values)
    for frac in (0.02, 0.1, 0.5, 0.97):
        sel = rng.random(n) < frac
        x, y = values[sel & finite], values[~sel & finite]
        if len(x) == 0 or len(y) == 0:
            assert np.isnan(mannwhitney_split(ranked, sel))
            continue
        want = stats.mannwhitneyu(x, y).pvalue
        assert mannwhitney_split(ranked, sel) == pytest.approx(want, rel=1e-9, abs=1e-12), \
            (seed, frac, len(x), len(y))


def test_mannwhitney_split_small_groups_all_tied_and_text():
    values = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0, 5.5, 3.5, 8.0, 7.0])
    sel = np.zeros(len(values), bool)
    sel[[0, 2, 4]] = True  # 3 values, no ties: scipy's exact test
    assert mannwhitney_split(rank_values(values), sel) == pytest.approx(
        stats.mannwhitneyu(values[sel], values[~sel]).pvalue)
    tied = rank_values(np.full(20, 7.0))  # nothing to tell apart
    assert mannwhitney_split(tied, np.arange(20) < 10) == 1.0
    assert np.isnan(rank_values(["a", "b", 3]).values[:2]).all()  # text counts as missing
