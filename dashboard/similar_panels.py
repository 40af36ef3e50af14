"""The similar-sessions page's panels: an uploaded recording as the query, the upload report and
map, spectrograms side by side, the two-session comparison hand-off (laid out by
views/similar_sessions.py)."""
from __future__ import annotations

import keys
import session_data
import state
import streamlit as st
import widgets

from clef import explore


def upload_query():
    """An uploaded recording (or the shipped example) read and embedded; stops the page until
    there is one, or with the clef message for a bad file."""
    f = st.file_uploader("EDF, BDF, FIF, or a .zip of a BrainVision set (.vhdr/.vmrk/.eeg)",
                         type=["edf", "bdf", "fif", "gz", "zip"], key="similar_upload",
                         help=f"Up to {explore.MAX_UPLOAD_MB} MB; processed in a temporary "
                              "folder that is removed afterwards.")
    examples = explore.example_recordings()
    if f is None and examples:
        # a real recording shipped with clef (EEGMMIDB, ODC-By: data_samples/real/README.md)
        use_example = st.toggle(f"Or try a real recording shipped with clef: {examples[0].name} "
                                "(PhysioNet EEGMMIDB, ODC-By)", key="similar_upload_example")
        if use_example:
            name, data = examples[0].name, examples[0].read_bytes()
        else:
            st.stop()
    elif f is None:
        st.stop()
    else:
        name, data = f.name, f.getvalue()
    try:
        upload = state.upload(data, name)
    except Exception as exc:  # noqa: BLE001 - bad file: show the clef message, keep the app alive
        widgets.show_error(exc, stop=True)
    st.success(f"Read {name}: {upload.summary}")
    for w in (upload.meta or {}).get("warnings") or []:
        st.warning(str(w))
    return upload


def upload_report(plain) -> None:
    """Does the upload look like this cohort? (its neighbours' similarity against the cohort's)"""
    pct, warning = explore.distribution_check(plain["score"].head(10),
                                              state.neighbour_reference(10))
    if warning:
        st.warning(warning)
    else:
        st.caption(f"Its neighbours are as similar as for {pct:.0%} of the cohort's own "
                   "sessions or more: it looks like this cohort.")


def upload_map(sessions, upload, plain, top: list[str]) -> None:
    """The upload as a star on the cohort map, where its nearest sessions are."""
    near = explore.neighbour_position(sessions, plain)
    if near is not None:
        upload.xy = near.astype("float32")
        st.caption("The star sits where its nearest sessions are (their similarity-weighted "
                   "centre), so the map agrees with the table.")
    extra = explore.upload_points(upload)
    st.plotly_chart(explore.map_figure(sessions, hover=state.hover(), extra_points=extra,
                                       highlight=explore.selection_mask(sessions["session_id"],
                                                                        top),
                                       highlight_name="top neighbours"),
                    width="stretch", key="similar_upload_map")


def spectrograms(label, upload, query_id, top: list[str]) -> None:
    """The query's and the top neighbours' spectrograms side by side, as thumbnails (images
    paint in half a heatmap chart's time; the compare view below has the full-size charts),
    stored by ``clef embed`` so no signals are read."""
    cols = st.columns(1 + len(top))
    panels = [(label, upload.spectrogram if upload is not None else None, query_id)]
    panels += [(sid, None, sid) for sid in top]
    for col, (title, spec, sid) in zip(cols, panels):
        try:
            if spec is not None:  # an upload's
                t, fr, p = spec
                png, span = explore.spectrogram_png(p), explore.span_label(t[-1], fr[0], fr[-1])
            else:
                png, span = session_data.spectrogram_thumbnail(sid)
            col.image(png, width="stretch", output_format="PNG", caption=f"{title} · {span}")
        except Exception as exc:  # noqa: BLE001 - e.g. a real cohort whose files moved
            col.warning(explore.error_message(exc))  # a warning: the other panels still show


def compare_panel(query_id: str, choices: list[str], page: str, url) -> None:
    """Pick a neighbour (kept in the URL) and open both on the compare page."""
    st.header("Compare two sessions")
    if st.session_state.get("similar_compare") not in choices:
        st.session_state["similar_compare"] = choices[0]
    c1, c2 = st.columns([3, 1])
    other = c1.selectbox(f"Compare {query_id} with", choices, key="similar_compare")
    widgets.url_publish(page, url)
    widgets.open_link("Open side by side", page=keys.PAGE_COMPARE,
                      query_params={"a": query_id, "b": other}, container=c2)
