"""The concept-search page's panels: search with evidence, scores, report-EEG discordance,
few-shot concepts (laid out by views/concept_search.py)."""
from __future__ import annotations

import background
import keys
import numpy as np
import session_data
import state
import streamlit as st
import widgets

from clef import explore, search

EVIDENCE = "search_evidence"  # the result whose evidence is shown


def open_viewer(session_id: str, t_s: float | None = None) -> None:
    """Open the viewer on a session (and a time): in its URL, and the older session-state key."""
    st.session_state[keys.VIEWER_SESSION] = session_id
    params = {keys.VIEWER_PARAM_SESSION: session_id}
    if t_s is not None:
        params[keys.VIEWER_PARAM_TIME] = f"{float(t_s):g}"
    st.switch_page(keys.PAGE_VIEWER, query_params=params)


def mark(session_id: str, key: str) -> None:
    marked = list(st.session_state.get(key) or [])
    if session_id not in marked:
        st.session_state[key] = marked + [session_id]


def evidence_panel(sid: str, row, query: str | None) -> None:
    """Report statements, concept timeline (minutes open the viewer), regions, actions."""
    b1, b2, b3 = st.columns(3)
    if b1.button(f"Open {sid} in the session viewer", key="search_to_viewer", type="primary"):
        open_viewer(sid)
    for box, label, key, marks in ((b2, "Mark as concept example", "search_mark_pos",
                                    keys.CONCEPT_POSITIVES),
                                   (b3, "Mark as counter-example", "search_mark_neg",
                                    keys.CONCEPT_NEGATIVES)):
        if box.button(label, key=key):
            mark(sid, marks)
            st.rerun()  # the whole page: the "Concept from examples" tab shows the mark
    if query is None:
        return
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Report: findings and impression** (query words: :material/check_circle: affirmed, :material/block: negated)")
        ev = search.statement_evidence(row.get("report"), query)
        for line in explore.evidence_markdown(ev) or ["*(no report)*"]:
            st.markdown(line)
    with right:
        try:
            states, patch_s = session_data.window_states(sid)
            tl = explore.concept_timeline(states, None, None, state.text_vector(query), patch_s)
            st.plotly_chart(explore.timeline_figure(tl, explore.short_heading(query, 40)),
                            width="stretch", key="search_timeline")
            st.caption("Minutes matching best (open the viewer there):")
            cols = st.columns(3)
            for i, r in enumerate(search.top_minutes(tl, 3).itertuples()):
                if cols[i].button(f"{r.start_min:.1f} min", key=f"search_minute_{i}"):
                    open_viewer(sid, r.start_min * 60.0)
            regions = session_data.region_scores(sid, query)
            if len(regions):
                st.caption("Regions: " + (search.laterality(regions) or "one side only"))
                st.dataframe(regions.round(3), hide_index=True, key="search_regions")
        except Exception as exc:  # noqa: BLE001 - e.g. no signals in this bundle: report stays
            widgets.show_error(exc)


SEARCH_URL = [explore.UrlBinding("q", "search_query", str, "")]  # the typed query lives in the URL


@st.fragment
def search_tab(sessions, labels) -> None:
    """The search tab, as a fragment: a new query reruns this tab only, not the other two."""
    try:
        rindex = background.report_index_if_built()  # None while it is being built
    except Exception as exc:  # noqa: BLE001 - the reports could not be indexed: the EEG alone
        widgets.show_error(exc)
        rindex = None
    if rindex is None and not background.report_index_done():
        st.info(f"Indexing the words of {len(sessions):,} reports (about a minute per 100,000, "
                "once per server start): until then the EEG model ranks alone. The page updates "
                "by itself.")
    widgets.url_restore("search", SEARCH_URL)
    pick = st.pills("Workshop examples", explore.example_queries(), key="search_example")
    if pick and st.session_state.get("_search_last_pick") != pick:
        st.session_state["search_query"] = pick  # set before the text box is drawn
    st.session_state["_search_last_pick"] = pick
    c1, c2 = st.columns([3, 1])
    query = c1.text_input("Describe what you are looking for", key="search_query",
                          placeholder="e.g. left temporal sharp waves, R temporal LPDs, no IEDs")
    widgets.url_publish("search", SEARCH_URL)
    saved = ["(none)"] + search.list_concepts()
    concept_name = c2.selectbox("…or a saved concept", saved, key="search_saved")
    with st.expander("Filters", expanded=False):
        f = state.filter_choices()
        f1, f2, f3 = st.columns(3)
        site = f1.multiselect("Site", f["site"], key="search_site")
        sex = f2.multiselect("Sex", f["sex"], key="search_sex")
        setting = f3.multiselect("Setting", f["setting"], key="search_setting")
        age = st.slider("Age", f["age"][0], f["age"][1], f["age"], key="search_age")
        f4, f5 = st.columns(2)
        dx = f4.text_input("Diagnosis (name or ICD-10 code, comma-separated)", key="search_dx",
                           placeholder="epilepsy, I63")
        meds = f5.multiselect("Medication or class", f["medications"], key="search_meds")
    c3, c4 = st.columns([2, 1])
    mode = c3.radio("Rank by", list(explore.SEARCH_MODES), horizontal=True,
                    format_func=explore.SEARCH_MODES.get, key="search_mode")
    k = c4.slider("Results", 5, 100, 20, key="search_k")
    use_concept = concept_name != "(none)"
    if not use_concept and (not query or not query.strip()):
        st.info("Type a concept, or pick one of the examples above.")
        return
    try:
        filters = explore.build_filters(site=site, sex=sex, setting=setting, age=age,
                                        full_age=f["age"], diagnosis=dx, medication=meds)
        mask = state.index().filter_mask(**filters)
        if use_concept:
            concept = search.load_concept(concept_name)
            scores = concept.scores(state.embeddings())
            rep = np.zeros(len(scores), np.float32)
            title, query, mode = f"saved concept “{concept.name}”", None, "eeg"
        else:
            scores = state.concept_scores(query)
            rep = rindex.scores(query) if rindex is not None else np.zeros(len(scores),
                                                                           np.float32)
            mode = mode if rindex is not None else "eeg"
            title = f"“{explore.short_heading(query)}”"
    except Exception as exc:  # noqa: BLE001 - bad query or filter: message, page keeps working
        widgets.show_error(exc)
        return
    if not use_concept:
        query_notes(query, scores, rep, mask, rindex)
    results = explore.hybrid_results(scores, rep, sessions, k=k, mask=mask, mode=mode)
    st.subheader(f"Top {len(results)} sessions for {title}")
    if results.empty:
        st.info("Nothing matches under these filters. Fix: loosen the filters or switch to "
                "'EEG only'.")
        return
    table = explore.results_table(results)
    table.insert(2, "viewer", [f"viewer?{keys.VIEWER_PARAM_SESSION}={s}"
                               for s in table["session_id"]])
    event = st.dataframe(
        table, hide_index=True, width="stretch", height=380, key="search_results",
        on_select="rerun", selection_mode="single-row",
        column_config={"viewer": st.column_config.LinkColumn("viewer", display_text="open"),
                       "EEG percentile": st.column_config.NumberColumn(
                           help="Share of the cohort the EEG scores at or below this session")})
    ids = results["session_id"].tolist()
    chosen = event.selection.rows if event is not None else []
    if chosen and st.session_state.get("_search_last_row") != (ids[chosen[0]], chosen[0]):
        st.session_state[EVIDENCE] = ids[chosen[0]]
        st.session_state["_search_last_row"] = (ids[chosen[0]], chosen[0])
    if st.session_state.get(EVIDENCE) not in ids:
        st.session_state[EVIDENCE] = ids[0]
    d1, d2, d3 = st.columns([2, 1, 1])
    d2.download_button("CSV (full reports)", explore.to_csv_bytes(results.drop(columns=["row"])),
                       "search_results.csv", "text/csv", key="search_csv")
    widgets.open_button("Show these on the cohort map", "search_to_map", page=keys.PAGE_MAP,
                        state_key=keys.MAP_HIGHLIGHT_IDS, value=ids, container=d3)
    sid = d1.selectbox("Evidence for (or click a row)", ids, key=EVIDENCE,
                       format_func=lambda s: f"#{ids.index(s) + 1} {s}")
    with st.container(border=True):
        evidence_panel(sid, results.iloc[ids.index(sid)], query)
    if query is not None:
        scores_panel(query, scores, sessions, labels)


def query_notes(query: str, scores, rep, mask, rindex) -> None:
    """How far to trust a query's ranking (``rindex``, the reports' keyword index, None while it
    is built: then the tab says so above and the EEG ranks alone), and how it was read."""
    if rindex is not None:
        hits = int(((rep > 0) & (mask if mask is not None else True)).sum())
        known = search.is_known_query(query, rindex.known_terms(query))
        level, text = explore.trust_message(search.match_strength(scores, state.null_stats()),
                                            hits, known)
        {"warning": st.warning, "info": st.info}.get(level, st.caption)(text)
    reading = state.query_reading(query)
    if reading:
        st.caption(reading)


def scores_panel(query, scores, sessions, labels) -> None:
    ev = explore.query_evaluation(query, scores, sessions, labels, state.task_info())
    c1, c2 = st.columns([2, 1])
    c1.plotly_chart(explore.score_histogram(scores, ev.positives, title="Scores of every session"),
                    width="stretch", key="search_hist")
    if ev.task is not None:
        c2.metric(ev.label, f"{ev.auroc:.3f}" if ev.auroc == ev.auroc else "n/a",
                  help=f"{ev.n_pos} positives, {ev.n_neg} negatives; 0.5 = chance. Matched by "
                       f"'{ev.phrase}'.")
    else:
        c2.caption("No task matches this query by name, synonym or abbreviation, so there is no "
                   "AUROC.")
    st.subheader("Compare two queries")
    # off by default: the 5,000-point scatter is redrawn for every new query (~0.7 s of WebGL in
    # a browser without a GPU, benchmarks/results/dashboard.md), for a view few queries need
    if not st.toggle("Scatter this query's scores against a second query's",
                     key="search_compare_on"):
        return
    query_b = st.text_input("Second query", "generalized slowing", key="search_query_b")
    if query_b and query_b.strip():
        try:
            color = (explore.color_values(f"task:{ev.task}", sessions, labels)
                     if ev.task is not None else sessions.get("site"))
            st.plotly_chart(explore.two_query_figure(
                scores, state.concept_scores(query_b), explore.short_heading(query, 40),
                explore.short_heading(query_b, 40), color=color, hover=state.hover()),
                width="stretch", key="search_scatter")
        except Exception as exc:  # noqa: BLE001
            widgets.show_error(exc)


POLL_S = 2.0  # how often a page waiting for work in the background looks whether it is done


def rerun_on_progress(status) -> None:
    """While ``status()`` (a tuple of bools: which background jobs are done) holds a False, a
    fragment on a :data:`POLL_S` timer that reruns the page when it changes (the run after the
    last job draws no timer)."""
    now = status()
    if not all(now):
        st.fragment(_rerun_if_changed, run_every=POLL_S)(status, now)


def _rerun_if_changed(status, before: tuple) -> None:
    if status() != before:
        st.rerun()


@st.fragment
def discordance_tab(sessions, labels) -> None:
    """Report-EEG discordance, as a fragment: its widgets rerun this tab only."""
    try:
        mentions = background.report_mentions_if_read()
    except Exception as exc:  # noqa: BLE001 - the reports could not be read: say why
        widgets.show_error(exc)
        return
    if mentions is None:
        st.info(f"Reading which findings each of the {len(sessions):,} reports names (about a "
                "minute per 100,000 sessions, once per server start); this tab fills in by "
                "itself. The other tabs work meanwhile.")
        return
    choices = explore.finding_choices(state.task_info(), mentions.columns)
    if not choices:
        st.info("This bundle has no finding tasks the report reader knows.")
        return
    c1, c2, c3 = st.columns([2, 2, 1])
    task = c1.selectbox("Finding", list(choices), format_func=choices.get, key="disc_finding")
    direction = c2.radio("List", list(search.DIRECTIONS), format_func=search.DIRECTIONS.get,
                         key="disc_direction")
    pct = c3.slider("EEG top/bottom %", 1, 30, 10, key="disc_pct")
    scores = state.concept_scores(choices[task])
    truth = None
    if labels is not None and task in labels.columns:
        truth = labels[task].reindex(sessions["session_id"].astype(str)).astype("Float64") \
            .fillna(-1).to_numpy(dtype=float).astype(int)
    table, prec, n = explore.discordance_table(
        scores, mentions[task].to_numpy(), sessions, direction=direction, top_percent=pct,
        truth=truth)
    st.subheader(f"{n} sessions: {search.DIRECTIONS[direction]}")
    if prec is not None:
        m1, m2 = st.columns(2)
        m1.metric("Precision against the generator's truth",
                  f"{prec.precision:.2f}" if prec.precision == prec.precision else "n/a",
                  help=f"{prec.n_true} of {prec.n_listed} listed sessions are real discordances")
        m2.metric("Base rate (random pick)", f"{prec.base_rate:.2f}")
    st.dataframe(table.assign(report=table["report"].str.slice(0, 300)) if "report" in table
                 else table, hide_index=True, width="stretch", key="disc_table")


def fewshot_tab(sessions, labels) -> None:
    ids = sessions["session_id"].astype(str).tolist()
    pos = list(st.session_state.get(keys.CONCEPT_POSITIVES) or [])
    neg = list(st.session_state.get(keys.CONCEPT_NEGATIVES) or [])
    options = ids if len(ids) <= widgets.PICKER_MAX else sorted(set(pos) | set(neg))
    st.caption("Mark sessions from search results (or pick them here); without counter-examples, "
               "random cohort sessions serve as negatives.")
    c1, c2 = st.columns(2)
    pos = c1.multiselect("Examples (positive)", options, key=keys.CONCEPT_POSITIVES)
    neg = c2.multiselect("Counter-examples (negative)", options, key=keys.CONCEPT_NEGATIVES)
    if len(pos) < search.MIN_EXAMPLES:
        st.info(f"Mark at least {search.MIN_EXAMPLES} example sessions.")
        return
    name = st.text_input("Concept name", "my concept", key="fewshot_name")
    try:
        concept = search.fit_concept(state.embeddings(), ids, pos, neg, name=name,
                                     model=str(state.index().manifest.get("model_sha256", "")))
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc)
        return
    scores = concept.scores(state.embeddings())
    m1, m2 = st.columns(2)
    m1.metric("Cross-validated AUROC on the examples",
              f"{concept.cv_auroc:.3f}" if concept.cv_auroc == concept.cv_auroc else "n/a",
              help=f"{concept.n_folds}-fold, {len(concept.positives)} positives, "
                   f"{len(concept.negatives)} negatives ({concept.sampled_negatives} random)")
    tasks = ["(none)"] + ([c for c in labels.columns if c != "session_id"]
                          if labels is not None else [])
    check = m2.selectbox("Check against a task (held-out sessions)", tasks, key="fewshot_check")
    if check != "(none)":
        ev = explore.query_evaluation(check, scores, sessions, labels,
                                      state.task_info()[lambda t: t["task"] == check])
        m2.metric(ev.label or "AUROC", f"{ev.auroc:.3f}" if ev.auroc == ev.auroc else "n/a")
    table = explore.fewshot_table(scores, sessions, marked=pos, k=20)
    st.dataframe(table, hide_index=True, width="stretch", key="fewshot_table")
    b1, b2 = st.columns(2)
    if b1.button("Save concept", key="fewshot_save"):
        path = search.save_concept(concept)
        st.success(f"Saved to {path}: pick it under '…or a saved concept' above.")
    widgets.open_button("Show its top sessions on the cohort map", "fewshot_to_map",
                        page=keys.PAGE_MAP, state_key=keys.MAP_HIGHLIGHT_IDS,
                        value=table["session_id"].tolist(), container=b2)
