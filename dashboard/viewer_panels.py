"""The session viewer's panels: click-to-jump, the traces with everything that follows the time
cursor (a fragment), the events list, left/right spectrograms and the asymmetry trend, report and
EHR, the concept timeline (laid out by views/session_viewer.py)."""
from __future__ import annotations

import session_data
import state
import streamlit as st
import widgets

from clef import explore

TRACE_PX = 1300  # width of the traces' image (pixels)
START = "viewer_t"  # the traces' window start (s): slider, ◀ ▶, spectrogram/event/timeline clicks


def _jump(t_s: float | None, memo: str, duration_s: float, window: float) -> None:
    """Move the traces to ``t_s`` once per new click (clicks persist in widget state)."""
    if t_s is not None and st.session_state.get(memo) != t_s:
        st.session_state[START] = explore.clamp_start(t_s, duration_s, window)
    st.session_state[memo] = t_s


def apply_clicks(events, duration_s: float, window: float) -> None:
    """Clicks move the traces: applied before the slider exists. A spectrogram or timeline click
    centres the window on the clicked time; an event row starts the window 1 s before the event."""
    t_spec = explore.clicked_time((st.session_state.get("viewer_spec") or {}).get("selection"))
    _jump(None if t_spec is None else t_spec - window / 2, "_viewer_last_click", duration_s,
          window)
    t_tl = explore.clicked_time((st.session_state.get("viewer_timeline") or {}).get("selection"))
    _jump(t_tl, "_viewer_last_tl", duration_s, window)
    picked = ((st.session_state.get("viewer_events") or {}).get("selection") or {}).get("rows") \
        or []
    _jump(float(events["onset_s"].iloc[picked[0]]) - 1.0 if picked and picked[0] < len(events)
          else None, "_viewer_last_event", duration_s, window)


@st.fragment
def time_panel(sess, spectra, sid: str, gains, windows, page: str, url) -> None:
    """The traces and everything that follows the time cursor, as a fragment: montage, gain,
    display filters, ◀ ▶, the start slider, the window and the topomap's band rerun this panel
    only; the page's spectrograms and tables stay as drawn. (So the whole-session spectrogram
    draws no cursor: the start slider, which spans the session, shows where the traces are; a
    cursor there made every step redraw it.)"""
    window = st.session_state["viewer_window"]
    max_t = max(0.0, float(sess.duration_s) - window)
    st.session_state[START] = min(float(st.session_state.get(START, 0.0)), max_t)
    c1, c2 = st.columns([3, 2])
    montage = c1.radio("Montage", list(explore.MONTAGE_LABELS), horizontal=True,
                       format_func=explore.MONTAGE_LABELS.get, key="viewer_montage")
    gain = c2.select_slider("Gain (µV per division)", gains, key="viewer_gain")
    f1, f2, f3 = st.columns(3)
    lff = f1.selectbox("Low cut (Hz)", explore.LOW_CUT_CHOICES, key="viewer_lff",
                       format_func=lambda v: f"{v:g}" if v else "off")
    hff = f2.selectbox("High cut (Hz)", explore.HIGH_CUT_CHOICES, key="viewer_hff",
                       format_func=lambda v: f"{v:g}" if v else "off")
    notch = f3.selectbox("Notch (Hz)", explore.NOTCH_CHOICES, key="viewer_notch",
                         format_func=lambda v: f"{v:g}" if v else "off")
    view = {"montage": montage, "window_s": window, "gain_uv": gain, "low_hz": lff,
            "high_hz": hff, "notch_hz": notch}
    try:  # an image, not a chart: it paints in a fraction of a new chart's time (dashboard.md)
        title, png = session_data.traces_image(sid, TRACE_PX, start_s=float(st.session_state[START]),
                                        **view)
        st.markdown(f"**{title}**")
        st.image(png, width="stretch", output_format="PNG")  # ("auto" would make it a JPEG)
    except ValueError as exc:  # e.g. a low cut above the high cut
        widgets.show_error(exc)
    nav1, nav2, nav3, nav4 = st.columns([1, 7, 1, 3])
    nav1.button("◀", key="viewer_prev", on_click=explore.step_state,
                args=(st.session_state, START, -window, max_t))
    start = nav2.slider("Start (s)", 0.0, max(max_t, 0.1), step=1.0, key=START,
                        label_visibility="collapsed")
    nav3.button("▶", key="viewer_next", on_click=explore.step_state,
                args=(st.session_state, START, window, max_t))
    nav4.select_slider("Window (s)", windows, key="viewer_window", label_visibility="collapsed",
                       format_func=lambda v: f"{v} s window")
    t1, t2 = st.columns([1, 4])
    band = t2.radio("Topomap band", list(explore.BANDS), index=2, key="viewer_band",
                    horizontal=True)
    t1.image(session_data.topomap_png(sid, explore.window_at(spectra, start + window / 2), band),
             caption="band power at the cursor", width="stretch")
    _draw_ahead(sess, spectra, sid, start, view, band)
    widgets.url_publish(page, url)


def _draw_ahead(sess, spectra, sid: str, start: float, view: dict, band: str) -> None:
    """Start drawing what the reader likely asks for next (:func:`session_data.traces_image`): the next
    window (▶) and, when a session is opened, this window in the other montages."""
    window = view["window_s"]
    nxt = explore.clamp_start(start + window, sess.duration_s, window)  # what ▶ will show
    if nxt != start:
        session_data.traces_image(sid, TRACE_PX, start_s=nxt, ahead=True, **view)
        session_data.topomap_png(sid, explore.window_at(spectra, nxt + window / 2), band, ahead=True)
    if st.session_state.get("_viewer_ahead_id") != sid:
        st.session_state["_viewer_ahead_id"] = sid
        for montage in explore.MONTAGE_LABELS:
            session_data.traces_image(sid, TRACE_PX, start_s=start, ahead=True,
                               **{**view, "montage": montage})


def events_panel(events) -> None:
    """The events list; clicking a row jumps the traces there (see :func:`apply_clicks`)."""
    st.markdown(f"**Events** ({len(events)}) · click one to jump")
    st.dataframe(events.style.apply(lambda c: [f"color: {v}; font-weight: bold"
                                               for v in events["colour"]], subset=["type"]),
                 column_order=["onset_s", "type", "duration_s"], hide_index=True,
                 on_select="rerun", selection_mode="single-row", key="viewer_events",
                 height=260, column_config={"onset_s": st.column_config.NumberColumn(
                     "at (s)", format="%.1f"), "duration_s": st.column_config.NumberColumn(
                     "s", format="%.1f")})


def hemispheres_panel(spectra, times, freqs) -> None:
    """Left and right spectrograms and the asymmetry trend over the whole session.

    None of them draws a cursor line: a cursor made every step in time redraw them (~1 s of the
    ~2 s a step took in Chromium at 10k sessions, benchmarks/results/dashboard_browser.md). The
    topomap at the cursor is in :func:`time_panel`."""
    st.subheader("Left and right hemispheres")
    q1, q2 = st.columns(2)
    for col, side_name, chans in ((q1, "Left", explore.LEFT_CHANNELS),
                                  (q2, "Right", explore.RIGHT_CHANNELS)):
        col.plotly_chart(explore.spectrogram_figure(
            times, freqs, explore.region_spectrogram(spectra, chans), height=220,
            title=f"{side_name}: {', '.join(chans)}"), width="stretch",
            key=f"viewer_spec_{side_name.lower()}")
    st.plotly_chart(explore.asymmetry_figure(explore.asymmetry_trend(spectra)),
                    width="stretch", key="viewer_asymmetry")


def report_panel(row) -> None:
    """The session's report and EHR side by side."""
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Report")
        st.text(row.get("report") or "(no report)")
    with right:
        st.subheader("EHR")
        st.dataframe(explore.ehr_table(row), hide_index=True, width="stretch", key="viewer_ehr")


def timeline_panel(sid: str) -> None:
    """A concept's score minute by minute; clicking a bar jumps the traces there."""
    st.subheader("Concept timeline")
    concept = st.text_input("Concept", "generalized slowing", key="viewer_concept")
    if concept and concept.strip():
        try:
            states, patch_s = session_data.window_states(sid)
            tl = explore.concept_timeline(states, None, None, state.text_vector(concept), patch_s)
            st.plotly_chart(explore.timeline_figure(tl, concept.strip()), width="stretch",
                            key="viewer_timeline", on_select="rerun", selection_mode="points")
            top = tl.nlargest(3, "score")
            st.caption("Minutes matching best (click a bar to see it): "
                       + ", ".join(f"{m:.1f}" for m in top["start_min"]))
        except Exception as exc:  # noqa: BLE001
            widgets.show_error(exc)
