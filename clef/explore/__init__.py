"""Exploration helpers behind the dashboard, one module per page concern.

=============  ============================================================================
module         what
=============  ============================================================================
profile        a selection's profile against the rest of the cohort (rates, effects, p/q)
concepts       concept scores, task matching, concept timelines
viewer         EEG traces, the events list and the clickable whole-session spectrogram
montages       display montages (MNE) and display filters
qeeg           left/right spectrograms, asymmetry trend, band-power topomap
compare        two sessions side by side, same-patient exclusion, steering before/after
clusters       named clusters on the map, diagnosis names next to codes
url_state      what is on screen, kept in the URL (Back, reload, shared links)
cohort_map     the map figure, box/lasso selections, colour choices
upload         reading and embedding an uploaded recording, placing it on the map
search         concept search: filters, hybrid results, evidence lines, held-out AUROC, trust
tables         session tables for display and CSV export
model_page     the model card and the probe-result files
=============  ============================================================================

Everything here is plain numpy/pandas/plotly so the dashboard pages stay thin and the logic is
testable without a browser. This package never imports Streamlit. The names below are the ones
the dashboard uses (``from clef import explore; explore.map_figure(...)``).
"""
from __future__ import annotations

from clef.errors import SignalsUnavailable, error_message
from clef.explore.ahead import DrawAhead
from clef.explore.clusters import (
    N_CLUSTERS,
    add_cluster_labels,
    diagnosis_names,
    map_clusters,
    with_name,
)
from clef.explore.cohort_map import (
    CATEGORY_COLOURS,
    IMAGE_MIN,
    IMAGE_SAMPLE,
    MAX_CATEGORIES,
    WEBGL_MIN,
    as_series,
    color_options,
    color_values,
    hover_text,
    map_figure,
    map_view,
    points_image,
    rows_to_mask,
    selected_rows,
    session_table,
)
from clef.explore.compare import (
    REGIONS,
    drop_same_patient,
    region_similarity,
    similarity_figure,
    state_similarity,
    steering_effect,
)
from clef.explore.concepts import (
    concept_scores,
    concept_timeline,
    discordance_table,
    embeddings_in_order,
    fewshot_table,
    finding_choices,
    match_task,
    timeline_figure,
    window_states,
)
from clef.explore.images import (
    span_label,
    spectra_thumbnail,
    spectrogram_png,
    thumbnail_png,
    trace_png,
)
from clef.explore.jobs import BackgroundJobs
from clef.explore.model_page import (
    PROBE_TABLE_ORDER,
    ModelCard,
    ProbeResults,
    ProbeTable,
    model_card,
    probe_figure,
    probe_results,
)
from clef.explore.montages import (
    HIGH_CUT_CHOICES,
    LOW_CUT_CHOICES,
    MONTAGE_LABELS,
    NOTCH_CHOICES,
    apply_display_montage,
    display_filter,
)
from clef.explore.profile import (
    PROFILE_CATEGORICAL,
    PROFILE_LISTS,
    PROFILE_NUMERIC,
    CohortProfile,
    ProfilePrep,
    cohort_profile,
    explode_lists,
    ids_key,
    prepare_profile,
    profile_figure,
    profile_table,
    selection_mask,
)
from clef.explore.qeeg import (
    BANDS,
    Spectra,
    asymmetry_figure,
    asymmetry_trend,
    channel_spectra,
    region_spectrogram,
    topomap_figure,
    topomap_png,
    window_at,
)
from clef.explore.qeeg import LEFT as LEFT_CHANNELS
from clef.explore.qeeg import RIGHT as RIGHT_CHANNELS
from clef.explore.search import (
    SEARCH_MODES,
    WORKSHOP_QUERIES,
    QueryEvaluation,
    build_filters,
    check_query,
    diagnosis_prefixes,
    evidence_markdown,
    example_queries,
    filter_choices,
    hybrid_results,
    neighbours,
    query_evaluation,
    results_table,
    score_histogram,
    short_heading,
    trust_message,
    two_query_figure,
)
from clef.explore.tables import DISPLAY_COLUMNS, display_table, ehr_table, to_csv_bytes
from clef.explore.upload import (
    MAX_UPLOAD_MB,
    UPLOAD_SUFFIXES,
    UploadResult,
    channel_report,
    distribution_check,
    embed_session,
    embed_upload,
    example_recordings,
    neighbour_position,
    neighbour_scores,
    read_uploaded,
    upload_points,
)
from clef.explore.url_state import Binding as UrlBinding
from clef.explore.url_state import adopt as url_adopt
from clef.explore.url_state import choice as url_choice
from clef.explore.url_state import decode_selection, encode_selection, fmt_number, one_of
from clef.explore.url_state import number as url_number
from clef.explore.url_state import publish as url_publish
from clef.explore.url_state import published as url_published
from clef.explore.url_state import restore as url_restore
from clef.explore.url_state import set_published as url_set_published
from clef.explore.url_state import write as url_write
from clef.explore.viewer import (
    EVENT_COLOURS,
    TraceWindow,
    clamp_start,
    clicked_time,
    events_table,
    minmax_decimate,
    montage_window,
    session_spectrogram,
    spectrogram_figure,
    step_state,
    trace_figure,
    trace_window,
)

__all__ = [
    "BANDS",
    "CATEGORY_COLOURS",
    "DISPLAY_COLUMNS",
    "EVENT_COLOURS",
    "HIGH_CUT_CHOICES",
    "IMAGE_MIN",
    "IMAGE_SAMPLE",
    "LEFT_CHANNELS",
    "LOW_CUT_CHOICES",
    "MAX_CATEGORIES",
    "MAX_UPLOAD_MB",
    "MONTAGE_LABELS",
    "NOTCH_CHOICES",
    "N_CLUSTERS",
    "PROBE_TABLE_ORDER",
    "PROFILE_CATEGORICAL",
    "PROFILE_LISTS",
    "PROFILE_NUMERIC",
    "REGIONS",
    "RIGHT_CHANNELS",
    "SEARCH_MODES",
    "UPLOAD_SUFFIXES",
    "WEBGL_MIN",
    "WORKSHOP_QUERIES",
    "BackgroundJobs",
    "CohortProfile",
    "DrawAhead",
    "ModelCard",
    "ProbeResults",
    "ProbeTable",
    "ProfilePrep",
    "QueryEvaluation",
    "SignalsUnavailable",
    "Spectra",
    "TraceWindow",
    "UploadResult",
    "UrlBinding",
    "add_cluster_labels",
    "apply_display_montage",
    "as_series",
    "asymmetry_figure",
    "asymmetry_trend",
    "build_filters",
    "channel_report",
    "channel_spectra",
    "check_query",
    "clamp_start",
    "clicked_time",
    "cohort_profile",
    "color_options",
    "color_values",
    "concept_scores",
    "concept_timeline",
    "decode_selection",
    "diagnosis_names",
    "diagnosis_prefixes",
    "discordance_table",
    "display_filter",
    "display_table",
    "distribution_check",
    "drop_same_patient",
    "ehr_table",
    "embed_session",
    "embed_upload",
    "embeddings_in_order",
    "encode_selection",
    "error_message",
    "events_table",
    "evidence_markdown",
    "example_queries",
    "example_recordings",
    "explode_lists",
    "fewshot_table",
    "filter_choices",
    "finding_choices",
    "fmt_number",
    "hover_text",
    "hybrid_results",
    "ids_key",
    "map_clusters",
    "map_figure",
    "map_view",
    "match_task",
    "minmax_decimate",
    "model_card",
    "montage_window",
    "neighbour_position",
    "neighbour_scores",
    "neighbours",
    "one_of",
    "points_image",
    "prepare_profile",
    "probe_figure",
    "probe_results",
    "profile_figure",
    "profile_table",
    "query_evaluation",
    "read_uploaded",
    "region_similarity",
    "region_spectrogram",
    "results_table",
    "rows_to_mask",
    "score_histogram",
    "selected_rows",
    "selection_mask",
    "session_spectrogram",
    "session_table",
    "short_heading",
    "similarity_figure",
    "span_label",
    "spectra_thumbnail",
    "spectrogram_figure",
    "spectrogram_png",
    "state_similarity",
    "steering_effect",
    "step_state",
    "thumbnail_png",
    "timeline_figure",
    "to_csv_bytes",
    "topomap_figure",
    "topomap_png",
    "trace_figure",
    "trace_png",
    "trace_window",
    "trust_message",
    "two_query_figure",
    "upload_points",
    "url_adopt",
    "url_choice",
    "url_number",
    "url_publish",
    "url_published",
    "url_restore",
    "url_set_published",
    "url_write",
    "window_at",
    "window_states",
    "with_name",
]
