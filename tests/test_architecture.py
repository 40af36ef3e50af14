"""Architecture rules (issue 13, docs/ARCHITECTURE.md): layers and sizes, checked on every run.

- the import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``), one test each, run
  through the real ``lint-imports`` command; tests that break contracts on a copy of the tree
  show the check can fail;
- the dashboard (a folder of scripts, not a package) imports only ``clef``'s public modules: the
  contract ``dashboard-public-clef-only`` forbids ``clef.<package>.<submodule>``; an AST scan here
  checks what an import graph cannot see (private names, names that are not modules);
- no module in ``clef/`` or ``dashboard/`` over 500 lines; no function over 100 lines without a
  ``# long: <why>`` comment on the line above its ``def`` (above its decorators) or on its
  signature.

Known violations left to other work are listed with their reason and marked
``xfail(strict=True)``: when one is fixed its test passes unexpectedly and fails the run, so the
entry must be removed then.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "clef"
DASHBOARD = REPO / "dashboard"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100
LONG_REASON = re.compile(r"#\s*long:\s*\S")

# contract id -> why it is broken today (each must be fixed, not the contract weakened).
KNOWN_BROKEN_CONTRACTS: dict[str, str] = {}
# clef-relative path -> why it is over MAX_MODULE_LINES today.
KNOWN_LONG_MODULES: dict[str, str] = {
}
# "path::function" -> why it is over MAX_FUNCTION_LINES without a reason today.
KNOWN_LONG_FUNCTIONS: dict[str, str] = {
}


def _contracts() -> list[dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _lint_imports_exe() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.is_file() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: it is a dev extra (`pip install -e '.[dev]'`)")
    return found


def _lint_imports(cwd: Path, *args: str, env: dict | None = None):
    return subprocess.run([_lint_imports_exe(), "--no-cache", *args], cwd=cwd, env=env, check=False,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def lint_report() -> str:
    """The output of one ``lint-imports`` run over all contracts."""
    result = _lint_imports(REPO)
    out = result.stdout + result.stderr
    if "Contracts:" not in out:  # a config error, not a verdict
        pytest.fail(f"lint-imports did not check the contracts (exit {result.returncode}):\n{out}")
    return out


def _contract_params():
    for c in _contracts():
        marks = ()
        if c["id"] in KNOWN_BROKEN_CONTRACTS:
            marks = pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN_CONTRACTS[c["id"]])
        yield pytest.param(c, id=c["id"], marks=marks)


@pytest.mark.parametrize("contract", list(_contract_params()))
def test_import_contract_kept(contract, lint_report):
    lines = [ln for ln in lint_report.splitlines() if ln.startswith(contract["name"] + " ")]
    assert lines, f"lint-imports did not report contract {contract['id']!r}:\n{lint_report}"
    assert lines[0].rstrip().endswith("KEPT"), (
        f"import contract broken: {contract['name']}\n"
        + lint_report[lint_report.find("Broken contracts"):])


def test_contracts_named_in_issue_exist():
    """The contracts issue 13 asks for are configured (a deleted contract fails here)."""
    forbidden = {(tuple(c["source_modules"]), m) for c in _contracts() if c["type"] == "forbidden"
                 for m in c["forbidden_modules"]}
    for source, target in [("clef", "streamlit"), ("clef", "dashboard"),
                           ("clef.io", "dashboard"), ("clef.tokenizer", "clef.model"),
                           ("clef.io", "clef.probe"), ("clef.io", "clef.store"),
                           ("clef.io", "clef.synth"), ("clef.probe", "clef.synth"),
                           ("clef.text", "clef.model"), ("clef.text", "clef.train"),
                           ("clef.text", "clef.synth"), ("dashboard", "clef.*.*")]:
        assert any(source in s and m == target for s, m in forbidden), (source, target)
    dashboard = next(c for c in _contracts() if c["id"] == "dashboard-public-clef-only")
    assert dashboard["source_modules"] == ["dashboard"], dashboard


def _lint_imports_on_copy(tmp_path: Path, plant: dict[str, str]):
    """``lint-imports`` on a copy of clef/, dashboard/ and pyproject.toml in ``tmp_path``, with
    each text of ``plant`` appended to the file at its repository-relative path."""
    for folder in (LIBRARY, DASHBOARD):
        shutil.copytree(folder, tmp_path / folder.name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    for rel, text in plant.items():
        victim = tmp_path / rel
        victim.write_text(victim.read_text() + text)
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(tmp_path),
           "HOME": str(tmp_path)}
    return _lint_imports(tmp_path, env=env)


def _planted_breaks(tmp_path: Path, plant: dict[str, str], contracts: list[str],
                    imports: list[str]) -> str:
    """``lint-imports`` on a copy with ``plant`` (see :func:`_lint_imports_on_copy`): it fails,
    names each contract of ``contracts`` (ids) BROKEN and each import of ``imports``
    ("a.b -> c.d"); returns its output."""
    result = _lint_imports_on_copy(tmp_path, plant)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    for cid in contracts:
        assert f"{_contract_name(cid)} BROKEN" in out, out
    for imp in imports:
        assert imp in out, out
    return out


def test_broken_contract_fails_lint_imports(tmp_path):
    """On a copy of clef/ whose tokenizer imports streamlit and the model, lint-imports fails
    and names both contracts (the check is live, not a formality)."""
    plant = {"clef/tokenizer/patching.py":
             "\nimport streamlit  # noqa\nimport clef.model  # noqa\n"}
    _planted_breaks(tmp_path, plant, ["no-streamlit"],
                    ["clef.tokenizer.patching -> streamlit",
                     "clef.tokenizer.patching -> clef.model"])


def test_library_importing_the_dashboard_fails_lint_imports(tmp_path):
    """On a copy whose clef.io imports a dashboard script, lint-imports fails and names the
    rules written for it: the library never imports the dashboard, clef.io never imports UI
    code. (The chain through dashboard.state reaches streamlit and clef.explore: those break
    too.)"""
    plant = {"clef/io/read.py": "\n\ndef _late():\n    from dashboard import state  # noqa\n"}
    _planted_breaks(tmp_path, plant, ["library-without-dashboard", "io-is-the-bottom"],
                    ["clef.io.read -> dashboard.state"])


def test_shared_leaf_importing_a_layer_fails_lint_imports(tmp_path):
    """The shared leaves (errors, session, channels, tokens, fileio) are the bottom of the
    layers: on a copy whose clef.tokens imports clef.io (no lower layer imports clef.tokens, so
    no chain from a lower layer shows it) and whose clef.errors imports clef.fileio,
    lint-imports fails on the layers contract and names both imports."""
    _planted_breaks(
        tmp_path, {"clef/tokens.py": "\n\ndef _late():\n    import clef.io  # noqa\n",
                   "clef/errors.py": "\n\ndef _late():\n    import clef.fileio  # noqa\n"},
        ["layers"], ["clef.tokens -> clef.io", "clef.errors -> clef.fileio"])


def test_every_library_module_is_in_the_layers_contract():
    """Each top-level module or package of clef/ sits in one layer, so an upward import from it
    breaks the build (an unplaced module may import anything)."""
    layers = next(c for c in _contracts() if c["id"] == "layers")["layers"]
    placed = [m.strip() for layer in layers for m in layer.split("|")]
    assert len(placed) == len(set(placed)), placed
    tops = {f"clef.{p.stem}" for p in LIBRARY.glob("*.py") if p.stem != "__init__"}
    tops |= {f"clef.{p.parent.name}" for p in LIBRARY.glob("*/__init__.py")}
    assert tops == set(placed), (sorted(tops - set(placed)), sorted(set(placed) - tops))


def test_side_stack_importing_upwards_fails_lint_imports(tmp_path):
    """clef.cohort (read by training, embedding and probing) importing clef.train, and
    clef.bundle importing clef.explore, break the layers contract (before the side stacks were
    placed in it, both passed)."""
    _planted_breaks(
        tmp_path, {"clef/cohort.py": "\n\ndef _late():\n    import clef.train  # noqa\n",
                   "clef/bundle.py": "\n\ndef _late():\n    import clef.explore  # noqa\n"},
        ["layers"], ["clef.cohort -> clef.train", "clef.bundle -> clef.explore"])


def _contract_name(contract_id: str) -> str:
    return next(c["name"] for c in _contracts() if c["id"] == contract_id)


def test_broken_dashboard_contract_fails_lint_imports(tmp_path):
    """On a copy of the tree whose dashboard imports clef.<package>.<submodule> (in a page of
    views/ and inside a function of state.py), lint-imports fails, names the dashboard contract
    and both imports, and still keeps the other contracts."""
    out = _planted_breaks(
        tmp_path, {"dashboard/views/model.py":
                   "\nfrom clef.explore.viewer import trace_figure  # noqa\n",
                   "dashboard/state.py": "\n\ndef _late():\n    import clef.io.read  # noqa\n"},
        ["dashboard-public-clef-only"],
        ["dashboard.views.model -> clef.explore.viewer", "dashboard.state -> clef.io.read"])
    assert f"Contracts: {len(_contracts()) - 1} kept, 1 broken." in out, out


def test_import_graph_holds_every_dashboard_script(monkeypatch):
    """dashboard/ has no __init__.py: grimp reads it as a namespace package, which takes in the
    scripts of views/ too (an __init__.py in dashboard/ alone would leave views/ out). Every
    script must be a module of the graph `lint-imports` checks, with its clef imports."""
    try:
        import grimp  # comes with import-linter
    except ModuleNotFoundError:
        pytest.fail("grimp is missing: import-linter is a dev extra (`pip install -e '.[dev]'`)")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    monkeypatch.syspath_prepend(str(REPO))  # as lint-imports puts its working directory first
    graph = grimp.build_graph(*config["root_packages"], cache_dir=None,
                              include_external_packages=config["include_external_packages"])
    scripts = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
               for p in DASHBOARD.rglob("*.py") if "__pycache__" not in p.parts}
    assert any(s.startswith("dashboard.views.") for s in scripts), scripts
    assert scripts - graph.modules == set()
    assert "clef.explore" in graph.find_modules_directly_imported_by("dashboard.views.model")


# ---- the dashboard imports no private clef names -----------------------------------------------

def _public_modules() -> set[str]:
    """``clef.<name>`` for each public top-level module or package of the library."""
    names = {p.stem for p in LIBRARY.glob("*.py")} | {
        p.parent.name for p in LIBRARY.glob("*/__init__.py")}
    return {f"clef.{n}" for n in names if not n.startswith("_")}


def _clef_imports(path: Path):
    """(line, module, imported names) for each import of clef in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "clef" or a.name.startswith("clef."):
                    yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "clef" or node.module.startswith("clef.")):
            yield node.lineno, node.module, [a.name for a in node.names]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def dashboard_import_problems(paths) -> list[str]:
    """Imports in ``paths`` of clef names that are not public, as far as an import graph is blind.

    The contract ``dashboard-public-clef-only`` (``lint-imports``) rejects ``clef.<package>.
    <submodule>``: the dashboard goes through the package (``from clef import explore``). An
    import graph holds modules only, so this scan checks the rest of "public":

    - no private module (``import clef._cache``): import-linter's wildcards replace whole names,
      so no contract can say ``clef._*``;
    - no private name (``from clef.index import _helper``: in the graph, an import of
      ``clef.index``);
    - ``from clef import x`` names a public module (or ``__version__``), not an object that
      ``clef/__init__.py`` happens to hold (in the graph, an import of ``clef``).

    Parameters
    ----------
    paths : iterable of Path
        Python files.

    Returns
    -------
    list of str
        ``"file:line: problem"``, empty when all imports are public.
    """
    public = _public_modules()
    problems = []
    for path in paths:
        for line, module, names in _clef_imports(path):
            where = f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{line}"
            if any(_private(part) for part in module.split(".")):
                problems.append(f"{where}: imports private module {module}")
            for name in names:
                if _private(name):
                    problems.append(f"{where}: imports private name {module}.{name}")
                elif module == "clef" and f"clef.{name}" not in public and name != "__version__":
                    problems.append(f"{where}: imports clef.{name} (not a public clef module)")
    return problems


def test_dashboard_imports_no_private_clef_names():
    files = sorted(DASHBOARD.rglob("*.py"))
    assert len(files) >= 5, files
    assert dashboard_import_problems(files) == []


def test_dashboard_import_check_can_fail(tmp_path):
    bad = tmp_path / "page.py"
    bad.write_text("from clef import _private\nfrom clef.index import _helper\n"
                   "import clef._cache\nfrom clef import Bundle\n"
                   # public, or the contract's business (clef.<package>.<submodule>):
                   "from clef import explore, __version__\nfrom clef.bundle import Bundle\n"
                   "from clef.explore.viewer import trace_figure\n")
    problems = dashboard_import_problems([bad])
    assert [p.split(": ", 1)[1] for p in problems] == [
        "imports private name clef._private", "imports private name clef.index._helper",
        "imports private module clef._cache", "imports clef.Bundle (not a public clef module)"]


# ---- sizes ---------------------------------------------------------------------------------------

def _library_files() -> list[Path]:
    return sorted(p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _params(known: dict[str, str], keys):
    for key in keys:
        marks = pytest.mark.xfail(strict=True, reason=known[key]) if key in known else ()
        yield pytest.param(key, id=key, marks=marks)


def _dashboard_files() -> list[Path]:
    return sorted(p for p in DASHBOARD.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("rel", list(_params(
    KNOWN_LONG_MODULES, [_rel(p) for p in _library_files() + _dashboard_files()])))
def test_module_at_most_500_lines(rel):
    n = len((REPO / rel).read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f"{rel} has {n} lines (at most {MAX_MODULE_LINES}): split it"


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """Functions of ``path`` longer than ``limit`` lines that give no ``# long:`` reason.

    A function's length runs from its first decorator (or ``def``) to its last line. The reason
    is a ``# long: <why>`` comment on the line above that, or on a line of the signature.

    Parameters
    ----------
    path : Path
        A Python file.
    limit : int
        Most lines a function may have without a reason.

    Returns
    -------
    list of (str, int)
        Qualified name and length of each function without a reason.
    """
    source = path.read_text()
    lines = source.splitlines()
    out = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            name = prefix + getattr(child, "name", "")
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                length = child.end_lineno - start + 1
                body_start = child.body[0].lineno
                signature = lines[child.lineno - 1:max(child.lineno, body_start - 1)]
                above = lines[start - 2] if start >= 2 else ""
                if length > limit and not any(LONG_REASON.search(s) for s in [above, *signature]):
                    out.append((name, length))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, name + ".")
    visit(ast.parse(source, filename=str(path)), "")
    return out


def _function_params():
    keys = [_rel(p) for p in _library_files()]
    for key in keys:
        known = {k.split("::")[1]: v for k, v in KNOWN_LONG_FUNCTIONS.items()
                 if k.split("::")[0] == key}
        marks = (pytest.mark.xfail(strict=True, reason="; ".join(f"{k}: {v}"
                                                                 for k, v in known.items()))
                 if known else ())
        yield pytest.param(key, id=key, marks=marks)


@pytest.mark.parametrize("rel", list(_function_params()))
def test_functions_at_most_100_lines_or_say_why(rel):
    found = long_functions(REPO / rel)
    assert found == [], (f"{rel}: functions over {MAX_FUNCTION_LINES} lines without a "
                         f"'# long: <why>' comment: {found}. Cut them into named steps, or say why")


def test_long_function_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    inner = body.replace("\n", "\n    ")
    src = tmp_path / "m.py"
    src.write_text(f"def plain():\n{body}\n\n\n# long: one table, row by row\n"
                   f"def explained():\n{body}\n\n\nclass K:\n    @staticmethod\n"
                   f"    def method(\n        a,  # long: a straight-line recipe\n    ):\n"
                   f"    {inner}\n\n    def hidden(self):\n    {inner}\n")
    assert long_functions(src) == [("plain", MAX_FUNCTION_LINES + 1),
                                   ("K.hidden", MAX_FUNCTION_LINES + 1)]


def test_library_never_imports_streamlit():
    """Also covered by the import-linter contract; this one needs no extra tool."""
    offenders = [f"{_rel(p)}:{line}" for p in _library_files()
                 for line, module, _ in _streamlit_imports(p)]
    assert offenders == []


def _streamlit_imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for m in mods:
            if m == "streamlit" or m.startswith("streamlit."):
                yield node.lineno, m, None


def test_probe_package_loads_its_parts_on_first_use():
    """clef.probe resolves every exported name on first use, so task derivation (`clef cohort
    build`) does not import scikit-learn or the probe runner."""
    from clef import probe

    assert sorted(probe.__all__) == sorted(probe._EXPORTS)
    for name in probe.__all__:
        assert getattr(probe, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = probe.nope
    code = ("import sys, clef.probe.derive, clef.cohort_build; "
            "assert 'sklearn' not in sys.modules, 'task derivation imported scikit-learn'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
