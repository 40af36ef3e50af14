"""Concept search: report keywords + EEG model fused, evidence for every hit, honest scores;
report-EEG discordance; a concept built from example sessions."""
from __future__ import annotations

import state
import streamlit as st
from search_panels import discordance, fewshot_tab, search_tab

st.title("Concept search")
_sessions, _labels = state.sessions(), state.labels()
t1, t2, t3 = st.tabs(["Search", "Report–EEG discordance", "Concept from examples"])
with t1:
    search_tab(_sessions, _labels)
with t2:
    discordance(_sessions, _labels)
with t3:
    fewshot_tab(_sessions, _labels)
