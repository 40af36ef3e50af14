"""Names shared between pages: ``st.session_state`` keys one page writes and another reads, and the
page scripts that ``st.switch_page`` opens. Keys used by one page only stay on that page."""
from __future__ import annotations

# ---- st.session_state keys read by another page -----------------------------------------------
MAP_HIGHLIGHT_IDS = "map_highlight_ids"  # list[str]: sessions to ring on the map (from search)
MAP_SELECTED_IDS = "map_selected_ids"  # list[str]: the map's current selection (to similar)
SIMILAR_SESSION = "similar_session"  # str: the session whose neighbours to show (from the map)
VIEWER_SESSION = "viewer_session"  # str: the session to open in the viewer (search, similar)
CONCEPT_POSITIVES = "concept_positives"  # list[str]: few-shot concept examples (search page)
CONCEPT_NEGATIVES = "concept_negatives"  # list[str]: few-shot counter-examples (search page)

# ---- URL query parameters: /viewer?session=<id>&t=<seconds> opens the viewer there -------------
VIEWER_PARAM_SESSION = "session"
VIEWER_PARAM_TIME = "t"

# ---- page scripts (relative to dashboard/app.py) -----------------------------------------------
PAGE_MAP = "views/cohort_map.py"
PAGE_SEARCH = "views/concept_search.py"
PAGE_SIMILAR = "views/similar_sessions.py"
PAGE_VIEWER = "views/session_viewer.py"
PAGE_MODEL = "views/model.py"
PAGE_COMPARE = "views/compare.py"
