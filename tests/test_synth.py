"""clef.synth: ontology, latent model, tables, determinism, EDF round trip, reports."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from clef.channels import STANDARD_CHANNELS
from clef.synth import (
    ONTOLOGY,
    TASKS,
    concepts,
    example,
    generate_cohort,
    make_session_id,
    parse_session_id,
    plan_session,
    regenerate_session,
)
from clef.synth.ontology import HELD_OUT
from clef.synth.report_styles import READER_STYLES, STYLES
from clef.synth.reports import REPORT_NOISE, held_out_mentions, write_report
from clef.synth.sites import SITES


@pytest.fixture(scope="module")
def tables_cohort(tmp_path_factory):
    """600 twenty-minute sessions, tables only (no signals): cheap."""
    from clef.cohort import Cohort

    out = tmp_path_factory.mktemp("synth_tables")
    generate_cohort(out, 600, seed=11, signals="none", progress=False)
    return Cohort.load(out)


@pytest.fixture(scope="module")
def edf_cohort(tmp_path_factory):
    """A few 20-second sessions with EDF recordings at both sites."""
    out = tmp_path_factory.mktemp("synth_edf")
    generate_cohort(out, 6, seed=3, minutes=1 / 3, signals="edf", n_jobs=1, progress=False)
    return out


# -- ontology, tasks, ids ------------------------------------------------------------------------
def test_ontology_covers_the_required_concepts():
    cats = {c: len(concepts(c)) for c in ("finding", "artifact", "phenotype", "medication",
                                          "demographic")}
    assert len(ONTOLOGY) >= 40
    assert cats["finding"] >= 20 and cats["artifact"] >= 5 and cats["phenotype"] >= 15
    assert cats["medication"] >= 12 and cats["demographic"] >= 4
    for c in concepts("phenotype"):
        assert c.icd10 and all(re.match(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$", x) for x in c.icd10), c
    for c in concepts("finding") + concepts("artifact"):
        assert c.signature and c.phrases
    assert set(HELD_OUT) and all(ONTOLOGY[h].category == "finding" for h in HELD_OUT)
    with pytest.raises(ValueError, match="category"):
        concepts("drugs")


def test_finding_phrases_are_unambiguous():
    owner = {}
    for c in concepts("finding") + concepts("artifact"):
        for p in c.phrases:
            assert owner.setdefault(p, c.name) == c.name, f"{p!r} used by {owner[p]} and {c.name}"


def test_task_battery():
    cats = pd.Series([t.category for t in TASKS]).value_counts()
    assert len(TASKS) >= 60 and len({t.name for t in TASKS}) == len(TASKS)
    assert set(cats.index) == {"phenotype", "medication", "finding", "demographic"}
    held = {t.name for t in TASKS if t.held_out}
    assert held == set(HELD_OUT)


def test_session_id_round_trip_and_errors():
    assert parse_session_id(make_session_id("B", 123, 2)) == ("B", 123, 2, 1200)
    assert parse_session_id(make_session_id("A", 7, 0, 30)) == ("A", 7, 0, 30)
    assert make_session_id("A", 7, 0) == "A-P000007-S0"
    for bad in ("A-7-S0", "A-P000007", "Z-P000001-S0x", ""):
        with pytest.raises(ValueError, match="synthetic id"):
            parse_session_id(bad)
    with pytest.raises(ValueError, match="unknown site"):
        plan_session(0, "Z-P000001-S0")


def test_generate_cohort_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="signals"):
        generate_cohort(tmp_path, 3, signals="wav", progress=False)
    with pytest.raises(ValueError, match="minutes"):
        generate_cohort(tmp_path, 3, minutes=0.01, progress=False)
    with pytest.raises(ValueError, match="site"):
        generate_cohort(tmp_path, 3, sites=("Q",), progress=False)


# -- tables and the latent model -----------------------------------------------------------------
def test_tables_follow_the_cohort_contract(tables_cohort):
    c = tables_cohort
    s = c.sessions
    assert len(s) == 600 and s["session_id"].is_unique
    assert set(s["site"]) == {"A", "B"} and set(s["setting"]) == {"outpatient", "emu", "icu"}
    assert s["path"].isna().all()
    assert dict(zip(s["site"], s["sfreq"])) == {"A": 200.0, "B": 256.0}
    assert (s.groupby("patient_id")["split"].nunique() == 1).all()  # patient-level split
    n_per_patient = s.groupby("patient_id").size()
    assert n_per_patient.max() >= 2 and n_per_patient.min() == 1
    assert 0.1 < (s["split"] == "test").mean() < 0.4
    assert s["age"].min() < 10 and s["age"].max() > 80
    # EHR missingness: some unknown lists (null in the parquet), and they leave those tasks
    # unlabelled
    raw = pd.read_parquet(c.root / "sessions.parquet")
    assert 0 < raw["medications"].isna().sum() < 0.15 * len(s)
    assert 0 < raw["diagnoses"].isna().sum() < 0.1 * len(s)
    lab = c.labels()
    no_meds = raw.loc[raw["medications"].isna(), "session_id"]
    assert lab.loc[no_meds, "levetiracetam"].isna().all()
    assert lab["normal_pdr"].notna().all()
    info = c.task_info().set_index("task")
    assert len(info) >= 60
    assert info.loc[list(HELD_OUT), "held_out"].all()
    o = c.oracle
    assert {"session_id", "concept", "category", "onset_s", "duration_s"} <= set(o.columns)
    assert (o["onset_s"] >= 0).all() and (o["onset_s"] + o["duration_s"] <= 1200.001).all()
    # finding labels are exactly the oracle's findings
    truth = o[o["category"] == "finding"].groupby("concept")["session_id"].nunique()
    for name in ("generalized_slowing", "sleep_spindles", "ied_left_temporal"):
        assert int(lab[name].sum()) == int(truth.get(name, 0)) > 0


def test_latent_model_is_clinically_plausible(tables_cohort):
    c = tables_cohort
    lab = c.labels().astype("float")
    s = c.sessions.set_index("session_id")
    icu = s["setting"] == "icu"
    out = s["setting"] == "outpatient"
    # ICU records are mostly abnormal, outpatient ones about half normal
    assert lab.loc[icu, "abnormal_eeg"].mean() > 0.7
    assert 0.3 < lab.loc[out, "abnormal_eeg"].mean() < 0.75
    # a diagnosis often does not show: epileptiform discharges in a minority-to-half of epilepsy
    epi = lab["epilepsy_any"] == 1
    assert 0.15 < lab.loc[epi, "any_epileptiform"].mean() < 0.7
    assert lab.loc[~epi & (lab["epilepsy_any"] == 0), "any_epileptiform"].mean() < 0.1
    # findings have several causes: generalized slowing also without encephalopathy codes
    gs = lab["generalized_slowing"] == 1
    assert 0.1 < (lab.loc[gs, "encephalopathy_any"] == 0).mean() < 0.9
    # medication effects: benzodiazepines raise excess beta
    benzo = lab["benzodiazepine_class"] == 1
    assert lab.loc[benzo, "excess_beta"].mean() > 3 * lab.loc[~benzo, "excess_beta"].mean()
    # intermittent findings: some last only minutes of the session
    o = c.oracle
    gsl = o[o["concept"] == "generalized_slowing"]
    assert ((gsl["duration_s"] < 600) & (gsl["duration_s"] > 0)).any()


def test_held_out_concepts_absent_from_training_reports(tables_cohort):
    s = tables_cohort.sessions
    train, test = s[s["split"] == "train"], s[s["split"] == "test"]
    assert all(held_out_mentions(r) == [] for r in train["report"])
    # ...while test reports do name them (so the check above can fail)
    assert sum(bool(held_out_mentions(r)) for r in test["report"]) >= 3
    # the training report of a session with a held-out finding still describes the rest
    o = tables_cohort.oracle
    sid = o[(o["concept"].isin(HELD_OUT)) & o["session_id"].isin(train["session_id"])][
        "session_id"].iloc[0]
    plan = plan_session(11, sid)
    text, info = write_report(plan, "train", return_info=True)
    assert f"{STYLES[info['style']].heads[3]}:" in text  # the description section is there
    assert held_out_mentions(write_report(plan, "test"))


def test_reports_agree_with_oracle_up_to_documented_noise(tables_cohort):
    from clef.text.extract import measure_extractor

    s = tables_cohort.sessions
    test = s[s["split"] == "test"]
    o = tables_cohort.oracle
    r = measure_extractor(test, o[o["category"] == "finding"]).set_index("concept")
    micro = r.loc["micro"]
    n_reports = len(test)
    # misses: omission (5%, sleep transients 15%) + laterality swaps; extra: false positives
    # per report (2%) + swaps. Allow sampling slack.
    sleep = r.loc[["vertex_waves", "sleep_spindles", "k_complexes"], "n_true"].sum()
    other = micro["n_true"] - sleep
    expected_fn = (REPORT_NOISE["omission_p"] + REPORT_NOISE["laterality_swap_p"]) * other \
        + REPORT_NOISE["sleep_omission_p"] * sleep
    assert micro["fn"] <= 1.5 * expected_fn + 8
    assert micro["fn"] >= 1  # the noise exists
    assert micro["fp"] <= 2 * (REPORT_NOISE["false_positive_p"] * n_reports) + 5


def test_report_structure_follows_the_readers_style(tables_cohort):
    s = tables_cohort.sessions
    assert s["report_style"].nunique() >= 5  # several readers' styles in one cohort
    for style_name, group in s.groupby("report_style"):
        style = STYLES[style_name]
        for text in group["report"].head(20):
            pos = [text.index(f"{style.heads[i]}:") for i in style.order]
            assert pos == sorted(pos), (style_name, text[:200])  # the reader's section order
            assert ("\n\n" in text) is not style.terse
            assert ("(PDR)" in text or "(IEDs)" in text) <= style.abbreviate
            assert not re.search(r"\b(T3|T4|T5|T6)\b", text) or style.old_electrodes
            assert not re.search(r"\b(T7|T8|P7|P8)\b", text) or not style.old_electrodes
    # each reader keeps one style; the two default sites mix long and terse layouts
    by_site = s.groupby("site")["report_style"].agg(set)
    assert by_site["A"] <= set(READER_STYLES["A"]) and by_site["B"] <= set(READER_STYLES["B"])
    assert any(STYLES[n].terse for n in s["report_style"]) and not all(
        STYLES[n].terse for n in s["report_style"])
    # varied phrasing: many distinct sentences describe the same finding
    assert s["report"].nunique() == len(s)
    neg = s["report"].str.contains("No epileptiform discharges|no epileptiform discharges|"
                                   "No definite epileptiform")
    assert neg.mean() > 0.2


def test_report_hedges_and_negatives_use_parseable_clinical_forms(tables_cohort):
    from clef.text.statements import classify

    text = " ".join(tables_cohort.sessions["report"])
    sentences = re.split(r"(?<=\.)\s+", text)
    forms = {"cannot be excluded": ("affirmed", "hedged"), "suspicious for": ("affirmed", "hedged"),
             "possible ": ("affirmed", "hedged"), "No definite ": ("negated", "certain")}
    for form, want in forms.items():
        hits = [x for x in sentences if form in x]
        assert hits, form  # every form occurs in a 600-session cohort
        for x in hits[:10]:
            pol, cert = classify(x)
            assert pol == want[0] and (cert == want[1] or want[1] == "certain"), (form, x)
    assert re.search(r"maximal at F7, T3 and T5|maximal at F8, T4 and T6", text)
    assert re.search(r"maximal at F7, T7 and P7|maximal at F8, T8 and P8", text)
    assert "frontal intermittent rhythmic delta activity (FIRDA)" in text or "(PDR)" in text


def test_report_style_draws_change_report_text_only(monkeypatch):
    """The style stream is separate: reseeding it changes reports, nothing else."""
    import numpy as np

    from clef.synth import reports
    from clef.synth.cohort import build_tables, cohort_session_ids

    ids = cohort_session_ids(80, 5, ("A", "B", "C", "D"))
    s0, t0, o0 = build_tables(5, ids)
    monkeypatch.setattr(reports, "style_rng", lambda plan: np.random.default_rng(12345))
    s1, t1, o1 = build_tables(5, ids)
    assert (s0["report"] != s1["report"]).sum() >= 5  # the style stream matters...
    rest = [c for c in s0.columns if c != "report"]
    pd.testing.assert_frame_equal(s0[rest], s1[rest])  # ...for the report text only
    pd.testing.assert_frame_equal(t0, t1)
    pd.testing.assert_frame_equal(o0, o1)


# -- determinism and regeneration ------------------------------------------------------------
def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
def test_same_seed_same_bytes_serial_and_parallel(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    kw = {"minutes": 0.25, "seed": 7, "progress": False}
    generate_cohort(a, 5, n_jobs=1, **kw)
    generate_cohort(b, 5, n_jobs=2, **kw)
    generate_cohort(c, 5, n_jobs=1, minutes=0.25, seed=8, progress=False)
    fa, fb = _files(a), _files(b)
    assert list(fa) == list(fb) and len([k for k in fa if k.endswith(".edf")]) == 5
    for k in fa:
        assert fa[k] == fb[k], k
    assert _files(c)["sessions.parquet"] != fa["sessions.parquet"]


def test_tables_are_deterministic(tmp_path):
    generate_cohort(tmp_path / "x", 40, seed=2, signals="none", progress=False)
    generate_cohort(tmp_path / "y", 40, seed=2, signals="none", progress=False)
    fx, fy = _files(tmp_path / "x"), _files(tmp_path / "y")
    assert fx == fy and set(fx) == {"cohort.json", "sessions.parquet", "tasks.parquet",
                                    "oracle.parquet"}


def test_regenerate_session_is_pure_and_site_native():
    a = regenerate_session(5, "A-P000003-S0-D60")
    b = regenerate_session(5, "A-P000003-S0-D60")
    np.testing.assert_array_equal(a.data, b.data)
    assert a.data.dtype == np.float32 and a.data.shape == (19, 60 * 200)
    assert a.ch_names == list(STANDARD_CHANNELS) and a.sfreq == 200.0
    other = regenerate_session(6, "A-P000003-S0-D60")
    assert not np.allclose(a.data, other.data)
    bb = regenerate_session(5, "B-P000003-S0-D60")
    assert bb.sfreq == 256.0 and bb.data.shape == (19, 60 * 256)
    uv = np.sqrt((a.data.astype(np.float64) ** 2).mean(1)) * 1e6
    assert np.median(uv) > 3 and np.median(uv) < 80  # microvolt amplitudes of real EEG
    assert a.meta["session_id"] == "A-P000003-S0-D60" and a.meta["site"] == "A"


def test_edf_matches_regeneration_and_reads_everywhere(edf_cohort):
    import mne
    from edfio import read_edf

    from clef.cohort import Cohort
    from clef.io import read_session

    c = Cohort.load(edf_cohort)
    assert c.sessions["path"].notna().all()
    for site in ("A", "B"):
        row = c.sessions[c.sessions["site"] == site].iloc[0]
        sid, path = row["session_id"], edf_cohort / row["path"]
        raw = regenerate_session(c.meta["seed"], sid)
        edf = read_edf(path)
        labels = [s.label for s in edf.signals]
        assert labels == [SITES[site].edf_label(ch) for ch in STANDARD_CHANNELS]
        got = np.stack([s.data for s in edf.signals])  # (19, samples) uV
        quantum = 2 * SITES[site].physical_uv / 65535
        np.testing.assert_allclose(got, raw.data * 1e6, atol=quantum)
        assert edf.signals[0].sampling_frequency == row["sfreq"]
        # clef.io harmonizes the site's names back to the standard ones
        s = read_session(path, sfreq=None, montage="none", l_freq=None)
        assert s.ch_names == list(STANDARD_CHANNELS) and s.sfreq == row["sfreq"]
        np.testing.assert_allclose(s.data, raw.data, atol=quantum * 1e-6 * 1.01)
        # and through the cohort API (clef.io preprocess at 200 Hz)
        sess = c.session(sid)
        assert sess.sfreq == 200.0 and sess.data.shape[0] == 19
        # any EDF reader: MNE
        r = mne.io.read_raw_edf(path, preload=True, verbose="error")
        assert r.info["sfreq"] == row["sfreq"] and len(r.ch_names) == 19
        np.testing.assert_allclose(r.get_data(), raw.data, atol=quantum * 1e-6 * 1.01)


def test_cohort_session_regenerates_without_files(tables_cohort):
    sid = tables_cohort.sessions["session_id"].iloc[0]
    raw = regenerate_session(11, sid)
    assert raw.duration_s == 1200.0
    s = tables_cohort.session(sid)  # regenerated + clef.io.preprocess
    assert s.sfreq == 200.0 and s.data.shape == (19, 240000)


def test_example_segments_are_labelled():
    s = example("ied_left_temporal", seconds=8)
    assert s.data.shape == (19, 8 * int(s.sfreq))
    assert s.meta["concept"] == "ied_left_temporal"
    assert any(d == "ied_left_temporal" and 0 <= o < 8 for o, _, d in s.annotations)
    b = example("burst_suppression", seconds=10)
    assert any(d == "burst_suppression" for _, _, d in b.annotations)
    with pytest.raises(ValueError, match="unknown concept"):
        example("not_a_concept")


def test_cli_writes_a_cohort(tmp_path):
    from typer.testing import CliRunner

    from clef.cli import app

    res = CliRunner().invoke(app, ["synth", "--n-sessions", "4", "--out", str(tmp_path / "c"),
                                   "--seed", "1", "--signals", "none", "--quiet"])
    assert res.exit_code == 0, res.output
    meta = (tmp_path / "c" / "cohort.json").read_text()
    assert '"seed": 1' in meta and "clef synth --n-sessions 4" in meta
    bad = CliRunner().invoke(app, ["synth", "--n-sessions", "4", "--out", str(tmp_path / "d"),
                                   "--signals", "wav", "--quiet"])
    assert bad.exit_code != 0


def test_resume_reuses_only_matching_recordings(tmp_path):
    generate_cohort(tmp_path, 2, seed=1, minutes=0.25, sites=("A",), n_jobs=1,
                    progress=False)
    edf = tmp_path / "recordings" / "A-P000000-S0-D15.edf"  # first patient, every seed
    first = edf.read_bytes()
    edf.write_bytes(b"stale")  # a killed run would never leave this (atomic writes)
    generate_cohort(tmp_path, 2, seed=1, minutes=0.25, sites=("A",), n_jobs=1,
                    progress=False)
    assert edf.read_bytes() == b"stale"  # same seed: finished files are kept (resume)
    generate_cohort(tmp_path, 2, seed=2, minutes=0.25, sites=("A",), n_jobs=1,
                    progress=False)
    fresh = edf.read_bytes()
    assert fresh != b"stale" and fresh != first  # another seed: everything is rewritten
