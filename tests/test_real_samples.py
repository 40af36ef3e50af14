"""The shipped real recordings (data_samples/real) are byte-identical to PhysioNet's, small, and
carry their licence and attribution."""
from __future__ import annotations

import hashlib
from pathlib import Path

REAL = Path(__file__).resolve().parents[1] / "data_samples" / "real"


def test_real_samples_checksums_and_size():
    sums = dict(reversed(line.split()) for line in (REAL / "SHA256SUMS").read_text().splitlines()
                if line.strip())
    edfs = sorted(p.name for p in REAL.glob("*.edf"))
    assert edfs == sorted(sums) and 1 <= len(edfs) <= 3
    for name, digest in sums.items():
        path = REAL / name
        assert path.stat().st_size < 5 * 1024 * 1024, name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name


def test_real_samples_attribution():
    text = (REAL / "README.md").read_text()
    assert "Open Data Commons Attribution License" in text
    assert "Schalk" in text and "Goldberger" in text and "physionet.org" in text
