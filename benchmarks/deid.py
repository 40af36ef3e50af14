"""De-identification benchmark: recall per PHI type on synthetic reports with planted PHI.

Reports are the shipped sample cohort's (``data_samples/cohort/sessions.parquet``); each gets a
header, inline mentions and a signature with names, record numbers, dates, phone numbers, e-mail
addresses and street addresses in the formats clinical notes use. The names come from lists kept
here (never used by :mod:`clef.deid`). Measured:

* recall per type: a planted item counts as found when it no longer occurs in the scrubbed text
  (word-bounded);
* findings unchanged: ``clef.text.extract.ConceptExtractor`` on the scrubbed text returns the same
  (concept, status) mentions as on the original report without PHI;
* clinical words kept: redactions on the reports *before* planting (every one is a false positive).

    .venv/bin/python benchmarks/deid.py [--n 300] [--seed 0]   # writes benchmarks/results/deid.md
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"id": 0.99, "date": 0.99, "phone": 0.99, "name": 0.95, "email": 0.99, "address": 0.9}

FIRST = ["Johanna", "Maria", "Wei", "Ahmed", "Olga", "Kwame", "Sofia", "Rajesh", "Emily", "Jose",
         "Fatima", "Hiroshi", "Chloe", "Dmitri", "Aisha", "Lucas", "Ingrid", "Mateo", "Priya",
         "Liam", "Nadia", "Kenji", "Zanele", "Oskar", "Leila", "Tomasz", "Amara", "Henrik",
         "Yusuf", "Camille", "Siobhan", "Bogdan", "Mei", "Tariq", "Elif", "Anders"]
LAST = ["Doe", "Schneider", "Nakamura", "Okafor", "Kowalski", "Haddad", "Fernandez", "Lindqvist",
        "Chen", "Patel", "O'Brien", "Van der Berg", "Moreau", "Ivanova", "Mbeki", "Gutierrez",
        "Rossi", "Kim", "Novak", "Abernathy", "McAllister", "Petrov", "Dubois", "Yamamoto",
        "Adeyemi", "Larsen", "Castillo", "Weiss", "Szabo", "Brennan", "Hoffmann", "Quispe",
        "Sorensen", "Farouk", "Whitfield", "Nguyen-Tran"]
STREETS = ["Maple", "Oak", "Harbor View", "Elm", "Kingsley", "Willow Creek", "Station", "Main"]
SUFFIX = ["Street", "St.", "Avenue", "Ave", "Road", "Lane", "Drive", "Court", "Boulevard"]
CITIES = [("Springfield", "IL"), ("Boston", "MA"), ("San Diego", "CA"), ("Austin", "TX")]
NOTES = """Why our own module (`clef/deid.py`) and not a library: scrubadub 2.0.1 installs offline, but
finds names only through TextBlob/spaCy/Stanford models that need downloads, and has no record-number
detector nor a date detector outside a "date of birth" context; presidio needs a spaCy model.

Limits, honestly: names are found by context (titles, labels such as "Patient:" or "signed by",
credentials, "is a NN-year-old", a name opening a line before a comma or MRN/DOB, and every later
repeat of a name found once). A bare name in running text with none of these ("saw Johanna today")
is missed. The planted formats are ours, so these recalls are an upper bound for real notes.
"""
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def _date(r: random.Random) -> str:
    y, m, d = r.randint(1930, 2025), r.randint(1, 12), r.randint(1, 28)
    mon = MONTHS[m - 1]
    return r.choice([f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{y}-{m:02d}-{d:02d}",
                     f"{d:02d}.{m:02d}.{y}", f"{mon} {d}, {y}", f"{d} {mon} {y}",
                     f"{mon[:3]} {d} {y}", f"{d:02d}-{mon[:3].upper()}-{y}", f"{mon} {d}"])


def _phone(r: random.Random) -> str:
    a, b, c = r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999)
    return r.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}",
                     f"+1 {a} {b} {c:04d}", f"{a}-{b}-{c:04d} ext. {r.randint(1, 999)}",
                     f"+44 20 {b}{r.randint(0, 9)} {c:04d}", f"{b}-{c:04d}"])


def _record(r: random.Random) -> str:
    n = r.randint(10**6, 10**9 - 1)
    return r.choice([f"{n}", f"{n:09d}", f"MR{n}", f"E-{n % 10**7:07d}",
                     f"{n // 1000 % 1000:03d}-{n % 100:02d}-{n % 10000:04d}", f"A{n % 10**7}"])


def _name(r: random.Random) -> tuple[str, str]:
    return r.choice(FIRST), r.choice(LAST)


def plant(report: str, r: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """``report`` with PHI added, and the planted (kind, value) items."""
    items: list[tuple[str, str]] = []

    def add(kind, value):
        items.append((kind, value))
        return value

    def pick(*options):
        return r.choice(options)()  # only the chosen alternative plants its items

    first, last = _name(r)
    doc_first, doc_last = _name(r)
    tech_first, tech_last = _name(r)
    header = [
        pick(lambda: f"Patient: {add('name', first)} {add('name', last)}",
             lambda: f"Name: {add('name', last)}, {add('name', first)}",
             lambda: f"PATIENT NAME: {add('name', first)} {add('name', last)}"),
        pick(lambda: f"MRN: {add('id', _record(r))}",
             lambda: f"Medical record number {add('id', _record(r))}",
             lambda: f"Acc #: {add('id', _record(r))}",
             lambda: f"Patient ID: {add('id', _record(r))}"),
        pick(lambda: f"DOB: {add('date', _date(r))}",
             lambda: f"Date of birth: {add('date', _date(r))}"),
        pick(lambda: f"Date of study: {add('date', _date(r))}",
             lambda: f"Recorded {add('date', _date(r))}"),
        pick(lambda: f"Referring physician: Dr. {add('name', doc_last)}",
             lambda: f"Referred by {add('name', doc_first)} {add('name', doc_last)}, MD",
             lambda: f"Ordering provider: {add('name', doc_first)} {add('name', doc_last)}"),
    ]
    if r.random() < 0.6:
        header.append(f"Phone: {add('phone', _phone(r))}")
    if r.random() < 0.4:
        num, street, suf = r.randint(1, 9999), r.choice(STREETS), r.choice(SUFFIX)
        city, st = r.choice(CITIES)
        header.append(f"Address: {add('address', f'{num} {street} {suf}')}, "
                      f"{add('address', f'{city}, {st} {r.randint(10000, 99999)}')}")
    if r.random() < 0.3:
        header.append(f"Email: {add('email', f'{first.lower()}.{last.lower()}@example.org')}")
    inline = pick(
        lambda: (f"{add('name', first)} {add('name', last)} is a patient seen in clinic on "
                 f"{add('date', _date(r))}."),
        lambda: (f"Ms. {add('name', last)} was seen on {add('date', _date(r))}; call back at "
                 f"{add('phone', _phone(r))}."),
        lambda: (f"Mr. {add('name', last)} returns for follow-up (last EEG "
                 f"{add('date', _date(r))})."),
        lambda: (f"Per Dr. {add('name', doc_last)}, prior study {add('date', _date(r))} was "
                 "reviewed."),
    )
    sign = pick(
        lambda: (f"Electronically signed by {add('name', doc_first)} {add('name', doc_last)}, "
                 f"MD on {add('date', _date(r))}"),
        lambda: f"Interpreted by: Dr. {add('name', doc_first)} {add('name', doc_last)}",
        lambda: f"Technologist: {add('name', tech_first)} {add('name', tech_last)}, R. EEG T.",
        lambda: (f"Read by {add('name', doc_first)} {add('name', doc_last)} "
                 f"({add('phone', _phone(r))})"),
    )
    return "\n".join(header) + "\n" + inline + "\n" + report + "\n" + sign, items


def _found(value: str, scrubbed: str, planted_text: str) -> bool:
    """A planted value is found when it no longer occurs in the scrubbed text (word-bounded)."""
    import re

    return re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", scrubbed) is None


def run(n: int = 300, seed: int = 0) -> dict:
    """Plant PHI in ``n`` sample reports, scrub them and measure.

    Returns
    -------
    dict
        ``recall`` (kind -> (found, planted)), ``findings_same`` (reports whose extracted
        mentions are unchanged), ``n``, ``false_positive_redactions`` and ``seconds``.
    """
    import pandas as pd

    from clef.deid import deidentify, find_phi
    from clef.text.extract import ConceptExtractor

    reports = pd.read_parquet(REPO / "data_samples" / "cohort" / "sessions.parquet",
                              columns=["report"])["report"].dropna().tolist()
    r = random.Random(seed)
    picked = r.sample(reports, min(n, len(reports)))
    ext = ConceptExtractor()
    counts: dict[str, list[int]] = {k: [0, 0] for k in TARGETS}
    same, fp, fp_examples, misses = 0, 0, [], []
    t0 = time.perf_counter()
    for rep in picked:
        text, items = plant(rep, r)
        scrubbed = deidentify(text)
        for kind, value in items:
            ok = _found(value, scrubbed, text)
            counts[kind][0] += ok
            counts[kind][1] += 1
            if not ok and len(misses) < 10:
                misses.append((kind, value))
        key = [(m.concept, m.status) for m in ext.extract(rep)]
        if [(m.concept, m.status) for m in ext.extract(scrubbed)] == key:
            same += 1
        spans = find_phi(rep)
        fp += len(spans)
        fp_examples += [(s.kind, s.text) for s in spans[:2]]
    secs = time.perf_counter() - t0
    return {"n": len(picked), "recall": counts, "findings_same": same, "false_positive_redactions":
            fp, "fp_examples": fp_examples[:10], "misses": misses, "seconds": secs}


def markdown(res: dict) -> str:
    """The result table written to ``benchmarks/results/deid.md``."""
    lines = ["# De-identification (`clef.deid`) on planted PHI", "",
             (f"{res['n']} sample-cohort reports, each with planted names, record numbers, dates, "
             "phone numbers and (some) e-mail and street addresses (`benchmarks/deid.py`)."), "",
             "| PHI type | planted | found | recall | target |", "|---|---|---|---|---|"]
    for kind, (found, total) in res["recall"].items():
        if total:
            lines.append(f"| {kind} | {total} | {found} | {found / total:.4f} | "
                         f">= {TARGETS[kind]} |")
    lines += ["", (f"- ConceptExtractor findings unchanged on the scrubbed text: "
                  f"{res['findings_same']} / {res['n']} reports"),
              f"- redactions on the reports before planting (false positives): "
              f"{res['false_positive_redactions']}"
              + (f", e.g. {res['fp_examples']}" if res["fp_examples"] else ""),
              f"- missed items (first 10): {res['misses'] or 'none'}",
              (f"- time: {res['seconds']:.2f} s ({res['seconds'] / max(res['n'], 1) * 1e3:.2f} ms "
              "per report, planting and extraction included)"), ""]
    lines += [NOTES]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "deid.md")
    a = p.parse_args(argv)
    res = run(a.n, a.seed)
    text = markdown(res)
    a.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
