"""What is on screen, kept in the URL's query string: Back, reload and a shared link restore it.

The dashboard binds widgets to query parameters (``?q=...&session=...&t=...``). Each run first
*restores*: a parameter that changed outside the page (browser Back/Forward, a pasted link, a page
switch with parameters) overwrites its widget's value; then, after the widgets are drawn, it
*publishes* the widgets' values back to the URL (Streamlit turns a changed query string into a
browser history entry, so Back undoes the last change). A map selection travels as its shape
(:func:`encode_selection`), not as a server-side id, so a link works after a restart.

Plain Python on mappings: ``st.query_params`` and ``st.session_state`` are passed in.
"""
from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MEMO = "_url_published"  # session-state key: {page: {param: value last written to the URL}}
MAX_LASSO_VERTICES = 48  # a lasso is thinned to this many vertices before it enters the URL


@dataclass(frozen=True)
class Binding:
    """One widget bound to one query parameter.

    Attributes
    ----------
    param : str
        Query-parameter name (``"session"``).
    key : str
        The widget's ``st.session_state`` key.
    parse : callable
        ``str -> value``; raises ``ValueError`` for a value the widget cannot take.
    default : object
        The widget's default: a value equal to it is left out of the URL.
    fmt : callable
        ``value -> str`` for the URL (default ``str``).
    """

    param: str
    key: str
    parse: Callable[[str], Any] = str
    default: Any = None
    fmt: Callable[[Any], str] = str


def number(text: str) -> float:
    """Parse a URL number (``"12.5"``); ``ValueError`` for anything else."""
    v = float(text)
    if not np.isfinite(v):
        raise ValueError(f"{text!r} is not a finite number")
    return v


def fmt_number(v: float) -> str:
    """A compact URL number: ``12`` rather than ``12.0``."""
    return f"{float(v):g}"


def one_of(choices) -> Callable[[str], str]:
    """A parser accepting only ``choices`` (e.g. the montage names)."""
    allowed = [str(c) for c in choices]

    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {allowed}")
        return text
    return parse


def choice(choices) -> Callable[[str], Any]:
    """A parser returning the element of ``choices`` that the text names (numbers compared as
    numbers: ``"0.5"`` finds ``0.5``, ``"50"`` finds ``50``); ``ValueError`` for any other."""
    options = list(choices)

    def parse(text: str):
        for c in options:
            if str(c) == text:
                return c
            if isinstance(c, (int, float)) and not isinstance(c, bool):
                try:
                    if float(text) == float(c):
                        return c
                except ValueError:
                    continue
        raise ValueError(f"{text!r} is not one of {options}")
    return parse


def restore(params: MutableMapping, state: MutableMapping, page: str,
            bindings: list[Binding]) -> list[str]:
    """Copy URL values into widget state where the URL changed outside the page.

    Call before the widgets are drawn. A parameter is applied when it differs from what this
    page last published (Back, a link) or when its widget has no state yet (a page switch drops
    widget state). A parameter that disappeared resets its widget to the default. Values the
    widget cannot take are ignored (the widget keeps its value).

    Parameters
    ----------
    params : mapping
        ``st.query_params`` (str -> str).
    state : mapping
        ``st.session_state``.
    page : str
        Page name (the memo is per page).
    bindings : list of Binding

    Returns
    -------
    list of str
        The parameters applied.
    """
    memo = state.setdefault(MEMO, {}).setdefault(page, {})
    applied = []
    for b in bindings:
        url = params.get(b.param)
        last = memo.get(b.param)
        if url == last and b.key in state:
            continue
        if url is None:
            if last is not None and b.key in state:  # Back to a URL without it: the default
                state.pop(b.key, None)
                applied.append(b.param)
            continue
        try:
            state[b.key] = b.parse(url)
        except (ValueError, TypeError):
            continue
        applied.append(b.param)
    return applied


def publish(params: MutableMapping, state: MutableMapping, page: str,
            bindings: list[Binding]) -> None:
    """Write the widgets' values to the URL (defaults are left out) and remember them.

    Call after the widgets are drawn. Only changed parameters are written, so a rerun that
    changed nothing adds no history entry, and all of them in one write (``from_dict`` where
    ``params`` has it, as ``st.query_params`` does): Streamlit adds a browser history entry per
    write, and one user action must be one step for Back.
    """
    memo = state.setdefault(MEMO, {}).setdefault(page, {})
    new = {k: params[k] for k in params}
    for b in bindings:
        value = state.get(b.key, b.default)
        text = None if value is None or _same(value, b.default) else b.fmt(value)
        if text in (None, ""):
            new.pop(b.param, None)
            memo.pop(b.param, None)
        else:
            new[b.param] = text
            memo[b.param] = text
    write(params, new)


def write(params: MutableMapping, new: dict) -> None:
    """Make ``params`` equal ``new`` in one write (nothing when they are equal already)."""
    if {k: params[k] for k in params} == new:
        return
    if hasattr(params, "from_dict"):
        params.from_dict(new)
    else:
        params.clear()
        params.update(new)


def adopt(params: MutableMapping, state: MutableMapping, page: str,
          bindings: list[Binding]) -> None:
    """Record the URL's values as published without writing anything (instead of
    :func:`publish`, on the first run of a page entered from the menu: a write then would be
    pushed under the previous page's path, an extra and wrong Back step)."""
    for b in bindings:
        set_published(state, page, b.param, params.get(b.param))


def set_published(state: MutableMapping, page: str, param: str, text: str | None) -> None:
    """Record ``text`` as published for ``param`` (for values a page writes itself)."""
    memo = state.setdefault(MEMO, {}).setdefault(page, {})
    if text is None:
        memo.pop(param, None)
    else:
        memo[param] = text


def published(state: MutableMapping, page: str, param: str) -> str | None:
    """What this page last wrote to the URL for ``param`` (None: nothing)."""
    return state.get(MEMO, {}).get(page, {}).get(param)


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


# ---- map selections --------------------------------------------------------------------------

def _thin(xs, ys, n: int) -> tuple[list[float], list[float]]:
    xs, ys = list(xs), list(ys)
    if len(xs) <= n:
        return xs, ys
    keep = np.unique(np.linspace(0, len(xs) - 1, n).round().astype(int))
    return [xs[i] for i in keep], [ys[i] for i in keep]


def _nums(values) -> str:
    return ",".join(f"{float(v):.4g}" for v in values)


def encode_selection(selection, *, max_vertices: int = MAX_LASSO_VERTICES) -> str | None:
    """A map selection (Streamlit's plotly selection state) as a short URL value.

    ``lasso:x1,y1,x2,y2,...`` (thinned to ``max_vertices``), ``box:x0,x1,y0,y1`` or
    ``rows:3,17,42`` (clicked points' row positions). Several shapes are joined by ``|``.

    Returns
    -------
    str or None
        None for an empty selection.
    """
    if not selection:
        return None
    parts = []
    for box in selection.get("box") or []:
        bx, by = box.get("x") or [], box.get("y") or []
        if len(bx) >= 2 and len(by) >= 2:
            parts.append("box:" + _nums([min(bx), max(bx), min(by), max(by)]))
    for las in selection.get("lasso") or []:
        lx, ly = _thin(las.get("x") or [], las.get("y") or [], max_vertices)
        if len(lx) >= 3:
            parts.append("lasso:" + _nums(v for xy in zip(lx, ly) for v in xy))
    if not parts:
        rows = []
        for p in selection.get("points") or []:
            cd = p.get("customdata")
            if isinstance(cd, (list, tuple)):
                cd = cd[0] if cd else None
            if cd is not None:
                rows.append(int(cd))
        if rows:
            parts.append("rows:" + ",".join(map(str, sorted(set(rows)))))
    return "|".join(parts) or None


def decode_selection(text: str | None) -> dict | None:
    """The selection dict of :func:`encode_selection`'s text (for ``selected_rows``).

    Returns None for an empty or unreadable value (a hand-edited link), never raises.
    """
    if not text:
        return None
    out: dict = {"box": [], "lasso": [], "points": []}
    try:
        for part in str(text).split("|"):
            kind, _, body = part.partition(":")
            nums = [float(v) for v in body.split(",") if v]
            if kind == "box" and len(nums) == 4:
                out["box"].append({"x": nums[:2], "y": nums[2:]})
            elif kind == "lasso" and len(nums) >= 6 and len(nums) % 2 == 0:
                out["lasso"].append({"x": nums[0::2], "y": nums[1::2]})
            elif kind == "rows":
                out["points"].extend({"customdata": int(v)} for v in nums)
    except ValueError:
        return None
    return out if any(out.values()) else None
