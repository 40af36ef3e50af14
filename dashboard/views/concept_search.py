"""Concept search: report keywords + EEG model fused, evidence for every hit, honest scores;
report-EEG discordance; a concept built from example sessions."""
from __future__ import annotations

import background
import state
import streamlit as st
from search_panels import discordance_tab, fewshot_tab, rerun_on_progress, search_tab

st.title("Concept search")
_sessions, _labels = state.sessions(), state.labels()
t1, t2, t3 = st.tabs(["Search", "Report–EEG discordance", "Concept from examples"])
with t1:
    search_tab(_sessions, _labels)
with t2:
    discordance_tab(_sessions, _labels)
with t3:
    fewshot_tab(_sessions, _labels)
# reports read in the background (keyword index, then findings): the page reruns as each is ready
rerun_on_progress(lambda: (background.report_index_done(), background.report_mentions_done()))
