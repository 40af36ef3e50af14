"""Cohort orchestration: patients -> sessions -> tables (sessions, tasks, oracle) and, optionally,
EDF recordings written in parallel.

Tables are cheap (plans only); signals are rendered per session from ``(seed, session_id)`` so
any subset can be regenerated later, by any process, byte for byte.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from clef.channels import STANDARD_CHANNELS
from clef.fileio import atomic_write, atomic_write_text
from clef.session import Session
from clef.synth.ontology import HELD_OUT
from clef.synth.patients import draw_patient
from clef.synth.plan import SessionPlan, make_session_id, parse_session_id, plan_session
from clef.synth.reports import EHR_NOISE, REPORT_NOISE, ehr_record, write_report
from clef.synth.signals import synthesize
from clef.synth.sites import get_site
from clef.synth.tasks import TASKS, session_labels

GENERATOR_VERSION = "clef.synth/1"
SITE_WEIGHT = {"A": 1.0, "B": 0.55, "C": 0.4, "D": 0.4}  # relative share of patients per site
SIGNALS = ("edf", "none")


def regenerate_session(seed: int, session_id: str, *, duration_s: float | None = None) -> Session:
    """Regenerate one session's raw signal as its site recorded it.

    Parameters
    ----------
    seed : int
        Cohort seed.
    session_id : str
        Synthetic id (``A-P000123-S0``; ``-D<seconds>`` suffix when not 20 minutes).
    duration_s : float, optional
        Override the duration encoded in the id.

    Returns
    -------
    Session
        data (19, samples) float32 volts at the site's native rate, standard channel names,
        ``meta`` with ids, site, reference and line frequency, ``annotations`` with every
        rendered event (concept name) and the state/procedure intervals.
    """
    plan = plan_session(int(seed), session_id, duration_s)
    return session_from_plan(plan)


def session_from_plan(plan: SessionPlan) -> Session:
    """Render a plan into a :class:`~clef.session.Session` (volts)."""
    data_uv, notes = synthesize(plan)
    data = data_uv * np.float32(1e-6)  # (19, samples) volts
    ann = [(round(e.onset, 4), round(e.duration, 4), e.concept) for e in plan.events]
    ann += [(round(e.onset, 4), round(e.duration, 4), f"{e.category}:{e.concept}")
            for e in plan.episodes if e.category in ("state", "procedure")]
    ann.sort()
    site = plan.site
    meta = {"session_id": plan.session_id, "patient_id": plan.patient.patient_id,
            "site": site.name, "seed": plan.patient.seed, "synthetic": True,
            "generator_version": GENERATOR_VERSION, "reference": site.reference,
            "line_freq": site.line_freq, "units": "V",
            "edf_labels": [site.edf_label(c) for c in STANDARD_CHANNELS],
            "findings": sorted(plan.findings), "setting": plan.setting, "age": plan.age,
            **dict(notes)}
    return Session(data, float(site.sfreq), list(STANDARD_CHANNELS), meta, ann)


# -------------------------------------------------------------------------------------------
def cohort_session_ids(n_sessions: int, seed: int, sites=("A", "B"),
                       duration_s: int = 1200) -> list[str]:
    """Session ids of a cohort: patients drawn in order until ``n_sessions`` sessions exist."""
    sites = tuple(sites)
    for s in sites:
        get_site(s)
    w = np.array([SITE_WEIGHT.get(s, 0.4) for s in sites])
    w = w / w.sum()
    ids: list[str] = []
    p = 0
    while len(ids) < n_sessions:
        site = sites[int(np.random.default_rng([int(seed), p, 7919]).choice(len(sites), p=w))]
        pat = draw_patient(seed, get_site(site), p)
        for s in range(pat.n_sessions):
            if len(ids) < n_sessions:
                ids.append(make_session_id(site, p, s, duration_s))
        p += 1
    return ids


def _row(seed: int, sid: str) -> tuple[dict, list[dict], list[dict]]:
    plan = plan_session(seed, sid)
    pat = plan.patient
    ehr = ehr_record(plan)
    report, report_info = write_report(plan, pat.split, return_info=True)
    row = {"session_id": sid, "patient_id": pat.patient_id, "site": pat.site, "path": None,
           "duration_s": float(plan.duration_s), "sfreq": float(plan.sfreq),
           "age": round(float(plan.age), 2), "sex": ehr["sex"], "setting": pat.setting,
           "report": report, "diagnoses": ehr["diagnoses"], "medications": ehr["medications"],
           "split": pat.split, "diagnosis_names": ehr["diagnosis_names"],
           "session_index": plan.session_index, "report_style": report_info["style"]}
    labels = session_labels(plan.findings, ehr["diagnoses"], ehr["medications"], ehr["sex"],
                            plan.age, pat.setting)
    tasks = [{"session_id": sid, "task": t.name, "category": t.category, "held_out": t.held_out,
              "concept": t.concept, "label": labels[t.name]} for t in TASKS if t.name in labels]
    oracle = []
    for e in plan.episodes:
        params = {k: v for k, v in e.params.items() if k != "times"}
        oracle.append({"session_id": sid, "concept": e.concept, "category": e.category,
                       "onset_s": round(e.onset, 3), "duration_s": round(e.duration, 3),
                       "n_events": int(params.get("n_events", -1)),
                       "params": json.dumps(params, sort_keys=True, default=float)})
    return row, tasks, oracle


def build_tables(seed: int, session_ids, progress: bool = False):
    """Sessions, tasks and oracle tables for the given synthetic session ids.

    ``sessions`` follows the cohort contract plus ``diagnosis_names`` (EHR names of the codes) and
    ``session_index``. ``oracle`` has one row per interval where a concept is true: session_id,
    concept, category ("finding", "artifact", "state" (awake/drowsy/n2/n3/coma/eyes_open) or
    "procedure" (hyperventilation, photic_stimulation)), onset_s, duration_s, n_events (-1 when
    not a count) and params (JSON: frequency, side, severity, suppression ratio, ...). Bursts
    (spike-and-wave, polyspikes, FIRDA, seizures) get one row each; trains (IEDs, LPDs, GPDs)
    one row per active window.

    Returns
    -------
    (sessions, tasks, oracle) : tuple of pandas.DataFrame
    """
    rows, tasks, oracle = [], [], []
    it = session_ids
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(session_ids, desc="synth tables", unit="session")
    for sid in it:
        r, t, o = _row(seed, sid)
        rows.append(r)
        tasks += t
        oracle += o
    sessions = pd.DataFrame(rows)
    tasks_df = pd.DataFrame(tasks).astype({"label": "int8", "held_out": bool})
    oracle_df = pd.DataFrame(oracle, columns=["session_id", "concept", "category", "onset_s",
                                              "duration_s", "n_events", "params"])
    return sessions, tasks_df, oracle_df


# -------------------------------------------------------------------------------------------
def write_edf(session: Session, path, plan: SessionPlan | None = None) -> Path:
    """Write a regenerated session as the site's EDF (atomic).

    Channel labels, physical range and the mains are the site's; values in microvolts.
    """
    from edfio import Edf, EdfSignal, Patient, Recording

    site = get_site(session.meta["site"])
    path = Path(path)
    r = site.physical_uv
    uv = np.clip(session.data.astype(np.float64) * 1e6, -r, r)  # (19, samples) uV
    signals = [EdfSignal(uv[i], sampling_frequency=session.sfreq, label=site.edf_label(ch),
                         transducer_type="AgAgCl electrode", physical_dimension="uV",
                         physical_range=(-r, r), prefiltering="HP:0.1Hz")
               for i, ch in enumerate(session.ch_names)]
    _, pidx, sidx, _ = parse_session_id(session.meta["session_id"])
    start = _dt.date(2020, 1, 1) + _dt.timedelta(days=int(pidx % 1000) + 7 * sidx)
    edf = Edf(signals, patient=Patient(code=session.meta["patient_id"]),
              recording=Recording(startdate=start, equipment_code=f"clef-synth-{site.name}"),
              starttime=_dt.time(9, 0, 0), data_record_duration=1.0)
    return atomic_write(path, lambda tmp: edf.write(str(tmp)), keep_suffix=True)


def _edf_job(args) -> str:
    seed, sid, out, resume = args
    path = Path(out) / "recordings" / f"{sid}.edf"
    if not (resume and path.exists()):  # resumable: finished files were written atomically
        write_edf(regenerate_session(seed, sid), path)
    return sid


def _recordings_manifest(out: Path, seed: int, duration_s: int) -> bool:
    """Write ``recordings/_synth.json``; True when existing EDFs there can be reused (resume)."""
    folder = out / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    want = {"seed": int(seed), "generator_version": GENERATOR_VERSION,
            "duration_s": int(duration_s)}
    p = folder / "_synth.json"
    try:
        resume = json.loads(p.read_text()) == want
    except (OSError, ValueError):
        resume = False
    if not resume:
        atomic_write_text(p, json.dumps(want, sort_keys=True))
    return resume


def generate_cohort(out, n_sessions: int, seed: int = 0, sites=("A", "B"), minutes: float = 20,
                    signals: str = "edf", n_jobs: int | None = None, progress: bool = True,
                    created_by: str | None = None) -> Path:
    """Generate a synthetic clinical EEG cohort folder.

    Parameters
    ----------
    out : str or Path
        Cohort folder (created; an existing cohort there is overwritten table by table).
    n_sessions : int
        Number of sessions (patients are drawn until there are this many).
    seed : int
        Cohort seed: the same seed gives the same files byte for byte.
    sites : sequence of str
        Sites to draw patients from ("A", "B", "C", "D").
    minutes : float
        Session length (whole seconds; ids carry ``-D<seconds>`` unless 20 minutes).
    signals : {"edf", "none"}
        Write EDF recordings under ``recordings/`` or only tables (signals then regenerate from
        ``(seed, session_id)`` with :func:`regenerate_session`).
    n_jobs : int, optional
        Worker processes for EDF writing (default: all cores).
    progress : bool
        tqdm progress bars.
    created_by : str, optional
        Recorded in cohort.json (default: the command line).

    Returns
    -------
    Path
        The cohort folder.
    """
    from clef.cohort_build import write_cohort

    if signals not in SIGNALS:
        raise ValueError(f"signals={signals!r}; choose one of {SIGNALS}")
    if int(n_sessions) < 1:
        raise ValueError(f"n_sessions={n_sessions}; pass a positive number of sessions")
    duration_s = round(float(minutes) * 60)
    if duration_s < 10 or abs(duration_s - float(minutes) * 60) > 1e-6:
        raise ValueError(f"minutes={minutes}: the session length must be a whole number of "
                         "seconds and at least 10 s (e.g. minutes=0.5 or 20)")
    if isinstance(sites, str):
        sites = tuple(s.strip() for s in sites.split(",") if s.strip())
    if not sites:
        raise ValueError("sites is empty; pass e.g. ('A', 'B')")
    out = Path(out)
    ids = cohort_session_ids(int(n_sessions), int(seed), sites, duration_s)
    sessions, tasks, oracle = build_tables(int(seed), ids, progress=progress)
    if signals == "edf":
        resume = _recordings_manifest(out, int(seed), duration_s)
        jobs = [(int(seed), sid, str(out), resume) for sid in ids]
        n_jobs = (os.cpu_count() or 1) if n_jobs is None else max(1, int(n_jobs))
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(jobs), desc="synth signals", unit="session")
        if n_jobs == 1 or len(jobs) < 4:
            for j in jobs:
                _edf_job(j)
                if bar is not None:
                    bar.update()
        else:
            with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as ex:
                for fut in as_completed([ex.submit(_edf_job, j) for j in jobs]):
                    fut.result()
                    if bar is not None:
                        bar.update()
        if bar is not None:
            bar.close()
        sessions["path"] = [f"recordings/{sid}.edf" for sid in ids]
    meta = {"kind": "synthetic", "seed": int(seed), "generator_version": GENERATOR_VERSION,
            "created_by": created_by or (
                f"clef.synth.generate_cohort(n_sessions={int(n_sessions)}, seed={int(seed)}, "
                f"sites={list(sites)}, minutes={float(minutes):g}, signals={signals!r})"),
            "sites": list(sites), "minutes": float(minutes), "signals": signals,
            "n_patients": int(sessions["patient_id"].nunique()),
            "held_out_concepts": list(HELD_OUT), "report_noise": REPORT_NOISE,
            "ehr_noise": EHR_NOISE,
            "labels": {"phenotype": "recorded ICD-10 codes (EHR, with missingness)",
                       "medication": "recorded medication list (EHR, with missingness)",
                       "finding": "true latent findings (oracle)",
                       "demographic": "sessions table"}}
    write_cohort(out, sessions, tasks, meta, oracle_df=oracle)
    return out
