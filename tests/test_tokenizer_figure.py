"""clef.tokenizer.spectrogram_figure: one heatmap per region/channel, x in seconds."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from clef.channels import REGIONS, STANDARD_CHANNELS
from clef.session import Session
from clef.tokenizer import MultitaperTokenizer, TokenizerConfig, spectrogram_figure


@pytest.fixture(scope="module")
def session() -> Session:
    rng = np.random.default_rng(0)
    t = np.arange(200 * 180) / 200.0
    data = rng.standard_normal((19, t.size)) * 5e-6
    data[STANDARD_CHANNELS.index("O1")] += 5e-5 * np.sin(2 * np.pi * 10 * t)  # 10 Hz alpha at O1
    return Session(data.astype(np.float32), 200.0, list(STANDARD_CHANNELS), {"session_id": "s1"})


def test_region_figure_from_session(session):
    fig = spectrogram_figure(session)
    assert isinstance(fig, go.Figure)
    heat = [tr for tr in fig.data if isinstance(tr, go.Heatmap)]
    assert len(heat) == len(REGIONS)
    tok = MultitaperTokenizer(TokenizerConfig.base())
    n_win = tok.n_windows(session.n_samples)
    np.testing.assert_allclose(heat[0].x, tok.times(n_win))  # x is seconds (click -> time)
    np.testing.assert_allclose(heat[0].y, tok.freqs)
    assert np.asarray(heat[0].z).shape == (len(tok.freqs), n_win)  # (freqs, windows)
    assert fig.layout.xaxis5.title.text == "time (min)"
    assert list(fig.layout.xaxis.ticktext)[:2] == ["0", "0.25"]


def test_channel_figure_shows_alpha(session):
    tok = MultitaperTokenizer(TokenizerConfig.base())
    spec = tok.spectrogram(session.data)
    fig = spectrogram_figure(spec, list(STANDARD_CHANNELS), by="channel", channels=["O1", "Fz"])
    o1, fz = (np.asarray(tr.z) for tr in fig.data)
    alpha = int(np.argmin(np.abs(tok.freqs - 10.0)))
    assert o1[alpha].mean() > fz[alpha].mean() + 10  # dB
    db = 10 * np.log10(spec[STANDARD_CHANNELS.index("O1")] / (200.0 * 1e-12))
    np.testing.assert_allclose(o1, db.T, rtol=1e-5, atol=1e-4)  # z is stored as float32


def test_long_session_is_decimated():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    spec = np.ones((19, 3001, len(tok.freqs)))
    fig = spectrogram_figure(spec, max_windows=1000)
    assert len(fig.data[0].x) <= 1000
    assert fig.data[0].x[-1] == pytest.approx(tok.times(3001)[-1], abs=tok.config.step_s * 2)
    with pytest.raises(ValueError, match="by="):
        spectrogram_figure(spec, by="lobe")
