"""Model: the model card, the bundle's provenance and the probing results."""
from __future__ import annotations

import state
import streamlit as st

from clef import explore

st.title("Model")
b = state.bundle()
card = explore.model_card(b.checkpoint, state.index().manifest)
st.markdown(card.markdown)
c1, c2 = st.columns(2)
c1.dataframe(card.facts, hide_index=True, width="stretch", key="model_facts")
with c2.expander("Full config (JSON)"):
    st.json(card.config, expanded=False)

st.header("Probing results")
probe = explore.probe_results(b.probe)
if probe.empty:
    st.info("No probe results in this bundle. Make them with `clef probe --cohort COHORT "
            "--checkpoint CHECKPOINT --out DIR/probe`.")
    st.stop()
names = [t.name for t in probe.tables]
choice = st.selectbox("Table", names, key="model_table") if names else None
for t in probe.tables:
    if t.name == choice:
        st.dataframe(t.frame, hide_index=True, width="stretch", key="model_probe_table")
        fig = explore.probe_figure(t.frame)
        if fig is not None:
            st.plotly_chart(fig, width="stretch", key="model_probe_fig")
for md in probe.markdown:
    with st.expander(md.name, expanded=False):
        st.markdown(md.text)
for img in probe.images:
    st.image(str(img), caption=img.name)
