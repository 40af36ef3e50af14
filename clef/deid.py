"""De-identification at the door: report text and EDF/BDF header subject fields.

``clef cohort build`` runs every report through :func:`deidentify` (unless ``--keep-phi``) and
never copies the EDF/BDF subject fields (name, birth date, hospital code) into a table; the age they
imply is kept (:func:`edf_subject`), and ``--copy`` writes recordings whose header subject and
recording fields are blanked (:func:`anonymize_edf_header`).

Why a pattern-based module of our own, not a library: scrubadub 2.0.1 installs offline here, but
finds names only through TextBlob/spaCy/Stanford models that need downloads, and has no detector
for record numbers or for dates outside a "date of birth" context; presidio needs a spaCy model
too. Clinical reports are formulaic, so context patterns reach the recall the issue asks for;
``benchmarks/deid.py`` measures it on planted PHI (``benchmarks/results/deid.md``).

What is replaced, by a bracketed tag: names after titles (Dr., Mrs., ...), after labels (Patient:,
Referring physician:, signed by, ...), before credentials (MD, RN, R. EEG T.) or before "is a
NN-year-old", and every later occurrence of a name found once in the same text ``[NAME]``;
record numbers (labelled MRN/ID/accession..., or any token with five or more digits) ``[ID]``;
dates (numeric, ISO, month names, EDF's 05-MAY-1951) ``[DATE]``; phone and fax numbers
``[PHONE]``; e-mail addresses ``[EMAIL]``; street addresses and ZIP codes ``[ADDRESS]``. Clinical
words are protected: the vocabulary's drugs, diagnoses and findings, eponyms (Lennox-Gastaut, Down
syndrome, Dravet ...), electrode names (T3, F7) and frequencies (3 Hz) are never replaced.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

__all__ = ["PHI_COLUMNS", "PHI_TAGS", "PhiSpan", "anonymize_edf_header", "deidentify",
           "deidentify_table", "edf_subject", "find_phi"]

# Table columns that name the subject (dropped by deidentify_table; never needed by clef)
PHI_COLUMNS = frozenset({"name", "patient_name", "first_name", "last_name", "surname",
                         "given_name", "dob", "birth_date", "date_of_birth", "birthdate", "mrn",
                         "medical_record_number", "address", "street", "phone", "telephone",
                         "email", "ssn", "hospital_code", "his_id"})
PHI_TAGS = {"name": "[NAME]", "id": "[ID]", "date": "[DATE]", "phone": "[PHONE]",
            "email": "[EMAIL]", "address": "[ADDRESS]"}

EPONYMS = ("Lennox", "Gastaut", "Down", "Dravet", "West", "Rett", "Angelman", "Landau", "Kleffner",
           "Rasmussen", "Jeavons", "Doose", "Panayiotopoulos", "Creutzfeldt", "Jakob", "Alzheimer",
           "Parkinson", "Huntington", "Wernicke", "Korsakoff", "Todd", "Sturge", "Weber",
           "Tourette", "Hashimoto", "Ohtahara", "Aicardi", "Guillain", "Barre", "Wada", "Glasgow",
           "Bell", "Lyme", "Reye", "Asperger", "Dandy", "Walker", "Chiari", "Arnold", "Gilles")
_TITLE_WORDS = ("EEG", "ECG", "EKG", "EMG", "EOG", "MRI", "CT", "ICU", "EMU", "MD", "DO", "RN",
                "PhD", "Hz", "The", "This", "There", "No", "Normal", "Abnormal", "Left", "Right")

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
          r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_NAME = r"(?:(?:Mc|Mac|[A-Z]')?[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?|[A-Z]\.)"
_PARTICLE = r"(?:\s+(?:van|von|der|den|de|da|del|della|di|du|la|le|ter|ten|bin|al|el))"
_NAMES = rf"{_NAME}(?:{_PARTICLE}*\s+{_NAME}){{0,2}}"
_LABELS = (r"patient(?:'s)?(?:\s+name)?|name|pt|referring(?:\s+(?:physician|doctor|provider|"
           r"neurologist))?|referred\s+by|attending(?:\s+physician)?|physician|ordering"
           r"(?:\s+(?:physician|provider))?|technologist|technician|tech|interpreted\s+by|"
           r"read\s+by|reviewed\s+by|(?:electronically\s+)?signed\s+by|dictated\s+by|"
           r"transcribed\s+by|cc|seen\s+by|mother|father|parent|guardian|neurologist|resident|"
           r"fellow|contact|spouse|wife|husband|daughter|son")

_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("date", re.compile(
        rf"\b(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})"
        rf"|\d{{1,2}}-{_MONTH}-\d{{2,4}}"
        rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+\d{{4}})?"
        rf"|{_MONTH}\.?,?\s+\d{{4}})\b", re.IGNORECASE)),
    ("phone", re.compile(
        r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\b\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}\b"
        r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?|\b\d{3}-\d{4}\b")),
    ("address", re.compile(
        r"\b\d{1,5}\s+(?:[A-Z][a-z]+\.?\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|"
        r"Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Circle|Parkway|Highway)\b\.?"
        r"(?:,?\s+(?:Apt|Apartment|Suite|Unit|#)\.?\s*\w+)?"
        r"|\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")),
    ("id", re.compile(
        r"(?i:\b(?:MRN|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s+(?:number|no\.?|#)|"
        r"acc(?:ession)?(?:\s+(?:number|no\.?|#))?|(?:patient|study|hospital|subject)\s+(?:id|"
        r"number|no\.?|#)|SSN|account(?:\s+(?:number|no\.?|#))?|case\s+(?:number|no\.?|#)|id)"
        r"\s*[:#]?\s*)(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b"
        r"|\b(?=(?:[A-Z-]*\d){5})[A-Z]{0,4}-?\d[\d-]*[A-Z]?\d*\b")),
    ("name", re.compile(rf"\b(?:Dr|Drs|Mr|Mrs|Ms|Miss|Mx|Prof)\.?\s+(?P<n>{_NAMES})")),
    ("name", re.compile(rf"(?i:\b(?:{_LABELS}))\s*[:,-]?\s*(?:\(?)"
                        rf"(?:(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s+)?"
                        rf"(?P<n>{_NAME}(?:,?{_PARTICLE}*\s+{_NAME}){{0,2}})")),
    ("name", re.compile(rf"(?P<n>{_NAMES}),?\s+(?:MD|M\.D\.|DO|RN|NP|PA-C|PhD|R\.\s?EEG\s?T\.?|"
                        r"REEGT|CNIM|RPSGT)\b")),
    ("name", re.compile(rf"(?P<n>{_NAMES})(?:,)?\s+(?:is|was|,)\s+an?\s+\d{{1,3}}[- ]"
                        r"(?:year|month|week|day)")),
    ("name", re.compile(rf"(?P<n>{_NAMES}),?\s+(?=(?i:MRN|DOB|D\.O\.B|ID\b|medical\s+record|born|"
                        r"date\s+of\s+birth|aged?\b|\(?\d{1,3}\s*(?:y|yo|years?)\b))")),
    ("name", re.compile(rf"^\s*(?P<n>{_NAME}(?:{_PARTICLE}*\s+{_NAME}){{1,2}})(?=,|\s+-)",
                        re.MULTILINE)),
]


@dataclass(frozen=True)
class PhiSpan:
    """One piece of protected health information found in a text."""

    start: int
    end: int
    kind: str  # a key of PHI_TAGS
    text: str


@lru_cache(maxsize=1)
def _protected() -> frozenset[str]:
    """Lower-cased words that are never a name: clinical vocabulary, eponyms, report words."""
    words: set[str] = {w.lower() for w in EPONYMS + _TITLE_WORDS}
    try:
        from clef import vocabulary as voc

        def walk(obj, depth=0):
            if depth > 4:
                return
            if isinstance(obj, str):
                words.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", obj))
            elif isinstance(obj, dict):
                for k, v in obj.items():
                    walk(k, depth + 1)
                    walk(v, depth + 1)
            elif isinstance(obj, (list, tuple, set, frozenset)):
                for v in obj:
                    walk(v, depth + 1)
            elif hasattr(obj, "__dict__") and depth < 3:
                walk(vars(obj), depth + 1)

        for name in ("ICD10_NAMES", "DIAGNOSIS_ALIASES", "MEDICATION_NAMES", "FINDING_NAMES",
                     "PHENOTYPE_NAMES", "ARTIFACT_NAMES", "DRUG_CLASSES", "VOCABULARY"):
            walk(getattr(voc, name, None))
    except ImportError:  # without the vocabulary, protect the eponyms and report words only
        words = {w.lower() for w in EPONYMS + _TITLE_WORDS}
    for part in list(words):  # "lennox-gastaut" protects "lennox" and "gastaut"
        words.update(part.split("-"))
    return frozenset(words)


def _name_tokens(span: str) -> list[tuple[int, int]]:
    """Offsets of the name-like tokens of a matched span that are not protected words."""
    keep = _protected()
    out = []
    for m in re.finditer(r"(?:Mc|Mac|[A-Z]')?[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?|[A-Z]\.", span):
        tok = m.group(0)
        if tok.lower() in keep or tok.rstrip(".").lower() in keep:
            continue
        out.append((m.start(), m.end()))
    return out


def find_phi(text: str) -> list[PhiSpan]:
    """The PHI spans of ``text``, sorted and non-overlapping (earlier kinds win ties).

    Parameters
    ----------
    text : str
        Free text (a report, a note).

    Returns
    -------
    list of PhiSpan
        Sorted by start offset; empty when the text holds none.
    """
    spans: list[tuple[int, int, str]] = []
    names: set[str] = set()
    for kind, pat in _PATTERNS:
        for m in pat.finditer(text):
            if kind != "name":
                spans.append((m.start(), m.end(), kind))
                continue
            base = m.start("n")
            for a, b in _name_tokens(m.group("n")):
                tok = text[base + a: base + b]
                spans.append((base + a, base + b, "name"))
                if len(tok) > 2 and not tok.endswith("."):
                    names.add(tok)
    for tok in names:  # a name found once is removed everywhere in the same text
        for m in re.finditer(rf"\b{re.escape(tok)}\b", text):
            spans.append((m.start(), m.end(), "name"))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[PhiSpan] = []
    for a, b, kind in spans:
        if out and a < out[-1].end:
            if b > out[-1].end and kind == out[-1].kind:
                last = out.pop()
                out.append(PhiSpan(last.start, b, kind, text[last.start:b]))
            continue
        out.append(PhiSpan(a, b, kind, text[a:b]))
    return out


def deidentify(text: str | None) -> str | None:
    """``text`` with every PHI span (:func:`find_phi`) replaced by its tag, e.g. ``[NAME]``.

    Parameters
    ----------
    text : str or None
        A report; None (no report) is returned as it is.

    Returns
    -------
    str or None
    """
    if not isinstance(text, str) or not text:
        return text
    parts, pos = [], 0
    for s in find_phi(text):
        parts.append(text[pos:s.start])
        parts.append(PHI_TAGS[s.kind])
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def deidentify_table(df):
    """An EHR/report table without identifier columns (:data:`PHI_COLUMNS`) and with its
    ``report``/``text`` columns de-identified.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        A new frame; ``df`` is not modified.
    """
    out = df.drop(columns=[c for c in df.columns if str(c).strip().lower() in PHI_COLUMNS])
    for col in ("report", "text", "report_text"):
        if col in out.columns:
            out[col] = [deidentify(v) if isinstance(v, str) else v for v in out[col]]
    return out


# ---- EDF/BDF headers --------------------------------------------------------------------------

def _header_date(field: str) -> date | None:
    """EDF's dd.mm.yy start date (1985-2084 clipping, as the spec says)."""
    try:
        d = datetime.strptime(field.strip(), "%d.%m.%y").date()
    except ValueError:
        return None
    year = d.year if d.year >= 1985 else d.year + 100
    return date(year if year < 2085 else year - 100, d.month, d.day)


def edf_subject(path) -> dict:
    """What the EDF/BDF header says about the subject that clef may keep: age and sex.

    The EDF+ patient field is ``code sex birthdate name``; only the sex and the age at the
    recording (birth date to start date) are returned, never the name, code or birth date.

    Parameters
    ----------
    path : path
        An EDF/EDF+/BDF file (other formats return an empty dict).

    Returns
    -------
    dict
        ``age`` (years, float, when the birth date and start date are known) and ``sex``
        ("F"/"M") when the header gives them.
    """
    path = Path(path)
    if path.suffix.lower() not in (".edf", ".bdf"):
        return {}
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return {}
    if len(head) < 256:
        return {}
    patient = head[8:88].decode("latin-1").split()
    recording = head[88:168].decode("latin-1").split()
    out: dict = {}
    if len(patient) >= 3:
        sex = patient[1].upper()
        if sex in ("F", "M"):
            out["sex"] = sex
        try:
            born = datetime.strptime(patient[2].title(), "%d-%b-%Y").date()
        except ValueError:
            born = None
        start = None
        if len(recording) >= 2 and recording[0] == "Startdate":
            try:
                start = datetime.strptime(recording[1].title(), "%d-%b-%Y").date()
            except ValueError:
                start = None
        start = start or _header_date(head[168:176].decode("latin-1"))
        if born and start and start >= born:
            out["age"] = round((start - born).days / 365.2425, 2)
    return out


def anonymize_edf_header(path) -> None:
    """Blank the subject and recording identification of an EDF/BDF file in place.

    The patient field becomes EDF+'s anonymous ``X X X X`` and the recording field keeps only
    ``Startdate``-free ``X X X X`` (dates, hospital codes and technician names go); the start
    date/time fields (bytes 168-184) stay, as the signal's timing needs them.

    Parameters
    ----------
    path : path
        An EDF/BDF file to rewrite (a copy, never the user's original).
    """
    with open(path, "r+b") as fh:
        head = fh.read(184)
        if len(head) < 184:
            return
        fh.seek(8)
        fh.write(b"X X X X".ljust(80))
        rec = head[88:168].decode("latin-1").split()
        start = rec[1] if len(rec) >= 2 and rec[0] == "Startdate" else "X"
        fh.write(f"Startdate {start} X X X".encode("latin-1").ljust(80)[:80])
