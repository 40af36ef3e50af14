"""Model page: the checkpoint's model card and the bundle's probe results."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go


@dataclass
class ModelCard:
    """What the model page shows: card markdown, key facts and the full config."""

    markdown: str
    facts: pd.DataFrame
    config: dict


def model_card(checkpoint, manifest: dict | None = None) -> ModelCard:
    """Read a checkpoint folder's ``MODEL_CARD.md`` and ``config.json`` (no weights loaded).

    Parameters
    ----------
    checkpoint : path
    manifest : dict, optional
        The index (or store) manifest, for provenance facts.
    """
    import json

    folder = Path(checkpoint) if checkpoint is not None else None
    card_path = folder / "MODEL_CARD.md" if folder else None
    md = (card_path.read_text(encoding="utf-8") if card_path is not None and card_path.is_file()
          else "_This checkpoint has no model card (MODEL_CARD.md)._")
    cfg_path = folder / "config.json" if folder else None
    cfg = json.loads(cfg_path.read_text()) if cfg_path is not None and cfg_path.is_file() else {}
    enc = cfg.get("encoder", {})
    facts = [("checkpoint", str(folder)), ("name", cfg.get("name")), ("arch", cfg.get("arch")),
             ("embedding dim", cfg.get("embed_dim")),
             ("encoder", f"d_model={enc.get('d_model')}, layers={enc.get('n_layers')}, "
                         f"heads={enc.get('n_heads')}" if enc else None),
             ("text backbone", cfg.get("text", {}).get("backbone")),
             ("weights sha256", str(cfg.get("weights_sha256") or "")[:16])]
    m = manifest or {}
    facts += [("index sessions", m.get("count")), ("index kind", m.get("index", {}).get("kind")),
              ("index built by", m.get("created_by"))]
    df = pd.DataFrame([(k, "" if v is None else str(v)) for k, v in facts],
                      columns=["field", "value"])
    return ModelCard(md, df, cfg)


@dataclass
class ProbeTable:
    name: str
    frame: pd.DataFrame


@dataclass
class ProbeResults:
    """Files of a ``probe/`` folder: CSV tables, markdown reports and PNG plots."""

    tables: list[ProbeTable] = field(default_factory=list)
    markdown: list = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.tables or self.markdown or self.images)


@dataclass
class _Markdown:
    name: str
    text: str


# `clef probe` tables in reading order (the per-category summary first); others follow by name
PROBE_TABLE_ORDER = ("summary_table.csv", "targets.csv", "results.csv", "zeroshot.csv", "beats.csv")


def _probe_table_order(path: Path) -> tuple:
    rank = PROBE_TABLE_ORDER.index(path.name) if path.name in PROBE_TABLE_ORDER else len(
        PROBE_TABLE_ORDER)
    return rank, str(path)


def probe_results(folder) -> ProbeResults:
    """Load the probe results of a bundle (``*.csv``, ``*.md``, ``*.png``; empty when absent)."""
    res = ProbeResults()
    if folder is None or not Path(folder).is_dir():
        return res
    folder = Path(folder)
    for p in sorted(folder.rglob("*.csv"), key=_probe_table_order):
        try:
            res.tables.append(ProbeTable(str(p.relative_to(folder)), pd.read_csv(p)))
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            res.markdown.append(_Markdown(p.name, f"Could not read `{p}`: {exc}"))
    res.markdown += [_Markdown(str(p.relative_to(folder)), p.read_text(encoding="utf-8"))
                     for p in sorted(folder.rglob("*.md"))]
    res.images = sorted(folder.rglob("*.png"))
    return res


def probe_figure(frame: pd.DataFrame) -> go.Figure | None:
    """Bars of mean AUROC per category and representation when the table has those columns."""
    cols = {c.lower(): c for c in frame.columns}
    auc = cols.get("auroc") or cols.get("mean_auroc") or cols.get("auc")
    cat = cols.get("category")
    if auc is None or cat is None:
        return None
    rep = cols.get("model") or cols.get("representation") or cols.get("baseline")
    g = frame.groupby([cat] + ([rep] if rep else []))[auc].mean().reset_index()
    fig = go.Figure()
    for name, part in (g.groupby(rep) if rep else [("AUROC", g)]):
        fig.add_trace(go.Bar(x=part[cat], y=part[auc], name=str(name)))
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_layout(barmode="group", height=320, yaxis_title="mean AUROC",
                      yaxis_range=[0.4, 1.0], margin={"l": 40, "r": 10, "t": 30, "b": 40})
    return fig
