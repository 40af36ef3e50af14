"""The shipped clef-tiny is the default checkpoint of every command that needs one (issue 16.1):
an omitted --checkpoint uses it with a printed note, and its absence is a clear typed error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clef.cli import app
from clef.commands.defaults import checkpoint_or_default
from clef.errors import CheckpointNotFound
from clef.model import hub

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "data_samples" / "clef-tiny"
runner = CliRunner()


@pytest.fixture()
def no_shipped(monkeypatch, tmp_path):
    """Pretend data_samples/clef-tiny is missing (as in an installed wheel)."""
    monkeypatch.setattr(hub, "DEFAULT_CHECKPOINT", tmp_path / "missing" / "clef-tiny")


@pytest.fixture()
def captured(monkeypatch):
    """Replace the heavy work of embed/probe/dashboard by a recorder of the checkpoint passed."""
    import clef.demo
    import clef.embed
    import clef.probe.pipeline

    seen: dict = {}

    def fake_embed(cohort, checkpoint, out, cfg, **kw):
        seen["embed"] = checkpoint
        raise clef.errors.InvalidCohort("stop here (test)")

    def fake_probe(cohort, checkpoint, out, **kw):
        seen["probe"] = checkpoint
        raise clef.errors.InvalidCohort("stop here (test)")

    def fake_launch(**kw):
        seen["dashboard"] = kw["checkpoint"]
        return 0

    monkeypatch.setattr(clef.embed, "embed_cohort", fake_embed)
    monkeypatch.setattr(clef.probe.pipeline, "run_probe", fake_probe)
    monkeypatch.setattr(clef.demo, "launch_dashboard", fake_launch)
    return seen


def test_helper_prefers_given_then_recorded_then_shipped(tmp_path, capsys):
    assert checkpoint_or_default("runs/ckpt") == "runs/ckpt"
    assert capsys.readouterr().err == ""
    assert Path(checkpoint_or_default(None)) == SHIPPED
    assert "using the shipped clef-tiny" in capsys.readouterr().err
    idx = tmp_path / "idx"
    (idx / "ckpt").mkdir(parents=True)
    (idx / "ckpt" / "config.json").write_text("{}")
    (idx / "manifest.json").write_text(json.dumps({"checkpoint": "ckpt"}))
    assert Path(checkpoint_or_default(None, built_from=idx)) == idx / "ckpt"
    assert "built with" in capsys.readouterr().err


def test_helper_missing_shipped_is_typed_error(no_shipped):
    with pytest.raises(CheckpointNotFound, match="Fix: pass --checkpoint"):
        checkpoint_or_default(None)
    assert Path(checkpoint_or_default("runs/ckpt")) == Path("runs/ckpt")


def test_embed_and_probe_default_to_shipped(captured, tmp_path):
    res = runner.invoke(app, ["embed", "--cohort", str(tmp_path), "--out", str(tmp_path / "st"),
                              "--quiet"])
    assert Path(captured["embed"]) == SHIPPED, res.output
    assert "note: no --checkpoint given" in res.output
    res = runner.invoke(app, ["probe", "--cohort", str(tmp_path), "--out", str(tmp_path / "p"),
                              "--quiet"])
    assert Path(captured["probe"]) == SHIPPED, res.output
    res = runner.invoke(app, ["probe", "--cohort", str(tmp_path), "--out", str(tmp_path / "p"),
                              "--quiet", "--baselines-only"])
    assert captured["probe"] is None, res.output


def test_commands_without_shipped_checkpoint_fail_clearly(captured, no_shipped, tmp_path):
    for args in (["embed", "--cohort", str(tmp_path), "--out", str(tmp_path / "st")],
                 ["probe", "--cohort", str(tmp_path), "--out", str(tmp_path / "p")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 1, res.output
        assert "CheckpointNotFound" in res.output and "Fix:" in res.output
    assert "embed" not in captured and "probe" not in captured


def test_dashboard_default_checkpoint(captured, tmp_path):
    # the shipped bundle names its own checkpoint: nothing to add
    res = runner.invoke(app, ["dashboard"])
    assert res.exit_code == 0, res.output
    assert captured["dashboard"] is None
    # a store whose manifest records no checkpoint: the shipped one is used, with a note
    store, index = tmp_path / "store", tmp_path / "index"
    store.mkdir()
    index.mkdir()
    (store / "manifest.json").write_text("{}")
    res = runner.invoke(app, ["dashboard", "--store", str(store), "--index", str(index)])
    assert res.exit_code == 0, res.output
    assert Path(captured["dashboard"]) == SHIPPED
    assert "using the shipped clef-tiny" in res.output


def test_query_text_without_checkpoint_uses_the_index_checkpoint():
    res = runner.invoke(app, ["query", "--index", str(REPO / "data_samples" / "index"),
                              "--text", "generalized slowing", "-k", "3", "--csv"])
    assert res.exit_code == 0, res.output
    assert "note: no --checkpoint given" in res.output
    assert res.output.count("\n") >= 4  # note + header + 3 rows
