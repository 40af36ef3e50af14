"""Exploration helpers behind the dashboard, one module per page concern.

=============  ============================================================================
module         what
=============  ============================================================================
profile        a selection's profile against the rest of the cohort (rates, effects, p/q)
concepts       concept scores, task matching, concept timelines
viewer         EEG traces and the clickable whole-session spectrogram
cohort_map     the map figure, box/lasso selections, colour choices
upload         reading and embedding an uploaded recording, placing it on the map
search         concept search: examples, filters, AUROC against task labels, neighbours
tables         session tables for display and CSV export
model_page     the model card and the probe-result files
=============  ============================================================================

Everything here is plain numpy/pandas/plotly so the dashboard pages stay thin and the logic is
testable without a browser. This package never imports Streamlit. The names below are the ones
the dashboard uses (``from clef import explore; explore.map_figure(...)``).
"""
from __future__ import annotations

from clef.errors import SignalsUnavailable, error_message
from clef.explore.cohort_map import (
    CATEGORY_COLOURS,
    DENSITY_THRESHOLD,
    MAX_CATEGORIES,
    WEBGL_MIN,
    as_series,
    color_options,
    color_values,
    hover_text,
    map_figure,
    rows_to_mask,
    selected_rows,
    session_table,
)
from clef.explore.concepts import (
    concept_scores,
    concept_timeline,
    embeddings_in_order,
    match_task,
    timeline_figure,
    window_states,
)
from clef.explore.model_page import (
    PROBE_TABLE_ORDER,
    ModelCard,
    ProbeResults,
    ProbeTable,
    model_card,
    probe_figure,
    probe_results,
)
from clef.explore.profile import (
    PROFILE_CATEGORICAL,
    PROFILE_LISTS,
    PROFILE_NUMERIC,
    CohortProfile,
    cohort_profile,
    explode_lists,
    profile_figure,
    profile_table,
    selection_mask,
)
from clef.explore.search import (
    WORKSHOP_QUERIES,
    QueryEvaluation,
    build_filters,
    check_query,
    example_queries,
    filter_choices,
    neighbours,
    query_evaluation,
    score_histogram,
    two_query_figure,
)
from clef.explore.tables import DISPLAY_COLUMNS, display_table, ehr_table, to_csv_bytes
from clef.explore.upload import (
    MAX_UPLOAD_MB,
    UPLOAD_SUFFIXES,
    UploadResult,
    embed_session,
    embed_upload,
    example_recordings,
    read_uploaded,
    upload_points,
)
from clef.explore.viewer import (
    MONTAGE_LABELS,
    clamp_start,
    clicked_time,
    minmax_decimate,
    montage_window,
    session_spectrogram,
    spectrogram_figure,
    step_state,
    trace_figure,
)

__all__ = [
    "CATEGORY_COLOURS", "DENSITY_THRESHOLD", "DISPLAY_COLUMNS", "MAX_CATEGORIES", "MAX_UPLOAD_MB",
    "MONTAGE_LABELS", "PROBE_TABLE_ORDER", "PROFILE_CATEGORICAL", "PROFILE_LISTS",
    "PROFILE_NUMERIC", "UPLOAD_SUFFIXES", "WEBGL_MIN", "WORKSHOP_QUERIES", "CohortProfile",
    "ModelCard", "ProbeResults", "ProbeTable", "QueryEvaluation", "SignalsUnavailable",
    "UploadResult", "as_series", "build_filters", "check_query", "clamp_start", "clicked_time",
    "cohort_profile", "color_options", "color_values", "concept_scores", "concept_timeline",
    "display_table", "ehr_table", "embed_session", "embed_upload", "embeddings_in_order",
    "error_message", "example_queries", "example_recordings", "explode_lists", "filter_choices", "hover_text",
    "map_figure", "match_task", "minmax_decimate", "model_card", "montage_window", "neighbours",
    "probe_figure", "probe_results", "profile_figure", "profile_table", "query_evaluation",
    "read_uploaded", "rows_to_mask", "score_histogram", "selected_rows", "selection_mask",
    "session_spectrogram", "session_table", "spectrogram_figure", "step_state", "timeline_figure",
    "to_csv_bytes", "trace_figure", "two_query_figure", "upload_points", "window_states",
]
