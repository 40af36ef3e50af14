"""Dashboard structure (no browser): cross-page session-state keys and page paths are named once
(dashboard/keys.py), pages use the shared widgets, and the library never imports Streamlit."""
from __future__ import annotations

import ast
import re
from pathlib import Path

DASH = Path(__file__).resolve().parents[1] / "dashboard"
CLEF = DASH.parent / "clef"


def _constants(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
            for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}


def test_cross_page_keys_and_pages_are_named_only_in_keys_py():
    names = _constants(DASH / "keys.py")
    assert {"MAP_HIGHLIGHT_IDS", "MAP_SELECTED_IDS", "SIMILAR_SESSION", "VIEWER_SESSION"} <= set(names)
    pages = [v for k, v in names.items() if k.startswith("PAGE_")]
    assert all((DASH / p).is_file() for p in pages)
    assert sorted(pages) == sorted(p.relative_to(DASH).as_posix()
                                   for p in (DASH / "views").glob("*.py"))
    literals = {v: k for k, v in names.items()}
    for f in [DASH / "app.py", DASH / "state.py", DASH / "widgets.py", *DASH.glob("views/*.py")]:
        text = f.read_text()
        found = [v for v in literals if f'"{v}"' in text or f"'{v}'" in text]
        assert not found, f"{f.name} spells {found}; use keys.{[literals[v] for v in found]}"


def test_pages_are_thin_and_use_the_shared_widgets():
    for f in DASH.glob("views/*.py"):
        text = f.read_text()
        assert len(text.splitlines()) <= 120, f"{f.name} is no longer a thin page"
        assert "st.error(explore.error_message" not in text, f"{f.name}: use widgets.show_error"
        assert "st.switch_page(" not in text, f"{f.name}: use widgets.open_button"
        assert "explore.display_table(" not in text, f"{f.name}: use widgets.session_table"


def test_library_never_imports_streamlit():
    offenders = [p.relative_to(CLEF.parent).as_posix() for p in CLEF.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+streamlit\b", p.read_text(), re.MULTILINE)]
    assert not offenders
