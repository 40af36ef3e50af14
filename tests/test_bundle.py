"""Where the dashboard's data lives (clef.bundle): the map is INDEX/map for `clef index`, `clef map`,
Bundle.locate and the shipped data_samples/; every command the app suggests exists."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clef.bundle import DEFAULT_ROOT, Bundle, cohort_store_dir, map_dir, store_index_dir
from clef.cli import app
from clef.errors import BundleNotFound
from clef.maps import CohortMap
from clef.store import EmbeddingStore

REPO = Path(__file__).resolve().parents[1]


def _store(folder: Path, n: int = 60, seed: int = 0, sha: str = "a" * 64) -> EmbeddingStore:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(4, 8))[np.arange(n) % 4] + 0.2 * rng.normal(size=(n, 8)))
    ids = pd.DataFrame({"session_id": [f"s{i:03d}" for i in range(n)]})
    return EmbeddingStore.write(folder, x.astype(np.float32), ids,
                                model_info={"model_sha256": sha, "model_name": "m"})


def test_index_and_map_commands_write_the_map_inside_the_index(tmp_path):
    _store(tmp_path / "store")
    runner = CliRunner()
    res = runner.invoke(app, ["index", "--store", str(tmp_path / "store"), "--out",
                              str(tmp_path / "index"), "--quiet", "--n-neighbors", "5"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "index" / "map" / "map.json").is_file()
    assert not (tmp_path / "map").exists() and not (tmp_path / "store" / "map").exists()
    first = CohortMap.load(map_dir(tmp_path / "index"))
    assert len(first) == 60

    # `clef map` refits in place; the store defaults to the one the index manifest records
    res = runner.invoke(app, ["map", "--index", str(tmp_path / "index"), "--seed", "3",
                              "--n-neighbors", "5"])
    assert res.exit_code == 0, res.output
    assert "index/map" in res.output.replace("\\", "/")
    again = CohortMap.load(tmp_path / "index" / "map")
    assert again.params["seed"] == 3 and first.params["seed"] == 0
    assert sorted(again.coords["session_id"]) == sorted(first.coords["session_id"])

    # a store of other sessions is refused, and nothing is written
    _store(tmp_path / "other", n=30, seed=1, sha="b" * 64)
    res = runner.invoke(app, ["map", "--index", str(tmp_path / "index"), "--store",
                              str(tmp_path / "other")])
    assert res.exit_code == 1 and "does not hold the sessions" in res.output
    assert CohortMap.load(tmp_path / "index" / "map").params["seed"] == 3
    res = runner.invoke(app, ["map", "--index", str(tmp_path / "nothing")])
    assert res.exit_code == 1 and "not a session index" in res.output


def test_cohort_layout_index_defaults_and_dashboard_cohort(tmp_path):
    """One rule: `clef index --cohort DIR` indexes DIR/store into DIR/index (+ map), and
    Bundle.locate(cohort=DIR) (so `clef dashboard --cohort DIR`) finds store, index and map."""
    cohort = tmp_path / "mycohort"
    cohort.mkdir()
    with pytest.raises(BundleNotFound, match=r"`clef embed --cohort .*`clef index --cohort"):
        Bundle.locate(cohort=cohort)  # nothing embedded yet: the fix names the two commands
    assert Bundle.locate(cohort=cohort, require=False).store is None  # never data_samples'
    _store(cohort_store_dir(cohort))
    with pytest.raises(BundleNotFound, match=r"`clef index --cohort"):
        Bundle.locate(cohort=cohort)
    runner = CliRunner()
    res = runner.invoke(app, ["index", "--quiet"])
    assert res.exit_code != 0 and "--cohort" in res.output
    res = runner.invoke(app, ["index", "--cohort", str(cohort), "--n-neighbors", "5"])
    assert res.exit_code == 0, res.output
    assert f"next: clef dashboard --cohort {cohort}" in res.output
    assert store_index_dir(cohort_store_dir(cohort)) == cohort / "index"
    assert (cohort / "index" / "map" / "map.json").is_file()
    b = Bundle.locate(cohort=cohort, require=False)
    assert (b.store, b.index, b.map) == (cohort / "store", cohort / "index",
                                         cohort / "index" / "map")
    # --store without --out writes the store's sibling index/ too
    _store(tmp_path / "elsewhere" / "store", n=20)
    res = runner.invoke(app, ["index", "--store", str(tmp_path / "elsewhere" / "store"),
                              "--no-map", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "elsewhere" / "index" / "manifest.json").is_file()


def test_bundle_finds_the_map_in_the_index_only(tmp_path):
    for part in ("store", "index", "checkpoint", "cohort"):
        (tmp_path / part).mkdir()
    (tmp_path / "map").mkdir()  # a map next to the store is not the bundle's map
    assert Bundle.locate(tmp_path).map is None
    map_dir(tmp_path / "index").mkdir()
    b = Bundle.locate(tmp_path)
    assert b.map == tmp_path / "index" / "map"
    assert Bundle.locate(index=tmp_path / "index", store=tmp_path / "store").map == b.map
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert Bundle.locate(tmp_path, map=elsewhere).map == elsewhere  # an explicit --map wins
    with pytest.raises(BundleNotFound, match="--map"):
        Bundle.locate(tmp_path, map=tmp_path / "nope")


def test_shipped_bundle_keeps_its_map_in_the_index():
    if not (DEFAULT_ROOT / "index" / "manifest.json").is_file():
        pytest.skip("no shipped data_samples/")
    b = Bundle.locate(DEFAULT_ROOT)
    assert b.map == DEFAULT_ROOT / "index" / "map"
    assert not (DEFAULT_ROOT / "map").exists()
    assert json.loads((b.map / "map.json").read_text())["format"] == "clef-map"


def test_every_command_the_app_suggests_exists():
    """Backticked `clef <command>` hints in the dashboard and the library name real commands."""
    import typer.main

    commands = set(typer.main.get_command(app).commands)
    files = [*sorted((REPO / "dashboard").rglob("*.py")), *sorted((REPO / "clef").rglob("*.py")),
             REPO / "scripts" / "build_data_samples.sh"]
    named, hints = {}, []
    for f in [*files, REPO / "README.md"]:
        text = f.read_text()
        for cmd in re.findall(r"`clef ([a-z][a-z-]*)", text):
            named.setdefault(cmd, f.relative_to(REPO).as_posix())
        for hint in re.findall(r"`(clef [a-z][^`]*)`", text):
            hints.append((hint, f.relative_to(REPO).as_posix()))
    assert {"map", "index", "embed", "probe", "demo"} <= set(named) | commands
    unknown = {c: f for c, f in named.items() if c not in commands}
    assert not unknown, f"hints naming commands that do not exist: {unknown}"
    bad = [(h, f) for h, f in hints if _hint_problem(h, app)]
    assert not bad, f"hints naming sub-commands or options that do not exist: {bad}"
    assert _hint_problem("clef index --no-such-option X", app)  # the check can fail
    assert _hint_problem("clef cohort nosuch", app)


def _hint_problem(hint: str, cli) -> str | None:
    """Why a backticked ``clef ...`` hint does not parse (unknown sub-command or option), if so."""
    import typer.main

    cmd = typer.main.get_command(cli)
    words = hint.split()[1:]
    while words and hasattr(cmd, "commands") and not words[0].startswith("-"):
        if words[0] not in cmd.commands:
            return f"no sub-command {words[0]!r}" if cmd.commands else None
        cmd = cmd.commands[words[0]]
        words = words[1:]
    if hasattr(cmd, "commands"):
        return None  # `clef cohort` alone names the group
    options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    unknown = [w.split("=")[0] for w in words if w.startswith("--")
               and w.split("=")[0] not in options]
    return f"no option {unknown}" if unknown else None
