"""Queries as clinicians type them: abbreviations and electrode names expanded, negation read,
prompts that never call a normal finding abnormal.

``parse_query("no LPDs")`` -> ``Query(core="lateralized periodic discharges", negated=True)``;
the scorer then ranks sessions by how little they look like the core concept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from clef.errors import InvalidQuery
from clef.text.statements import classify

MAX_QUERY_CHARS = 500  # longer text is not a query; the error says so

# Abbreviations and eponyms common in EEG reports (ACNS terminology and usual shorthand). Matched
# as whole words, case-insensitively unless the key has a lower-case letter in a fixed place.
ABBREVIATIONS: dict[str, str] = {
    "LPDs": "lateralized periodic discharges", "LPD": "lateralized periodic discharges",
    "PLEDs": "periodic lateralized epileptiform discharges",
    "PLED": "periodic lateralized epileptiform discharges",
    "BIPLEDs": "bilateral independent periodic lateralized epileptiform discharges",
    "BIPDs": "bilateral independent periodic discharges",
    "GPDs": "generalized periodic discharges", "GPD": "generalized periodic discharges",
    "GPEDs": "generalized periodic epileptiform discharges",
    "FIRDA": "frontal intermittent rhythmic delta activity",
    "OIRDA": "occipital intermittent rhythmic delta activity",
    "TIRDA": "temporal intermittent rhythmic delta activity",
    "IRDA": "intermittent rhythmic delta activity", "GRDA": "generalized rhythmic delta activity",
    "LRDA": "lateralized rhythmic delta activity", "RDA": "rhythmic delta activity",
    "PDR": "posterior dominant rhythm", "PBR": "posterior background rhythm",
    "IEDs": "interictal epileptiform discharges", "IED": "interictal epileptiform discharge",
    "EDs": "epileptiform discharges",
    "SWC": "spike-and-wave complexes", "SW": "spike and wave", "GSW": "generalized spike and wave",
    "GPSW": "generalized polyspike and wave", "PSW": "polyspike and wave",
    "TWs": "triphasic waves", "TW": "triphasic waves", "triphasics": "triphasic waves",
    "BS": "burst suppression", "HV": "hyperventilation", "IPS": "intermittent photic stimulation",
    "PS": "photic stimulation", "PPR": "photoparoxysmal response",
    "KCs": "K-complexes", "KC": "K-complex", "POSTS": "positive occipital sharp transients of sleep",
    "N2": "stage 2", "N3": "stage 3", "NREM": "non-REM sleep",
    "SE": "status epilepticus", "NCSE": "nonconvulsive status epilepticus",
    "BECTS": "benign epilepsy with centrotemporal spikes", "JME": "juvenile myoclonic epilepsy",
    "CAE": "childhood absence epilepsy", "LGS": "Lennox-Gastaut syndrome",
    "EEG": "EEG", "qEEG": "quantitative EEG",
    "sharps": "sharp waves", "spikes": "spikes", "V-waves": "vertex waves", "V waves": "vertex waves",
    "bzd": "benzodiazepine", "BZD": "benzodiazepine", "benzo": "benzodiazepine",
    "benzos": "benzodiazepines", "overbreathing": "hyperventilation",
}
# Electrode names -> region words (old and new 10-20 names; odd = left, even = right).
ELECTRODES: dict[str, str] = {
    "Fp1": "left frontopolar", "Fp2": "right frontopolar", "F3": "left frontal",
    "F4": "right frontal", "F7": "left anterior temporal", "F8": "right anterior temporal",
    "T3": "left temporal", "T4": "right temporal", "T7": "left temporal", "T8": "right temporal",
    "T5": "left posterior temporal", "T6": "right posterior temporal",
    "P7": "left posterior temporal", "P8": "right posterior temporal", "C3": "left central",
    "C4": "right central", "C5": "left centrotemporal", "C6": "right centrotemporal",
    "P3": "left parietal", "P4": "right parietal", "O1": "left occipital",
    "O2": "right occipital", "Fz": "midline frontal", "Cz": "vertex", "Pz": "midline parietal",
}
_SIDE = re.compile(r"(?<![\w-])([LR])(?=[\s-]+(?:temporal|frontal|parietal|occipital|central|"
                   r"hemisphere|hemispheric|sided|side))", re.IGNORECASE)


def _word_re(keys) -> re.Pattern:
    alt = "|".join(re.escape(k) for k in sorted(keys, key=lambda s: (-len(s), s)))
    return re.compile(rf"(?<![\w-])(?:{alt})(?![\w-])")


_ABBR_EXACT = _word_re(ABBREVIATIONS)
_ABBR_LOWER = {k.lower(): v for k, v in ABBREVIATIONS.items()}
_ABBR_ANY = re.compile(_ABBR_EXACT.pattern, re.IGNORECASE)
_ELECTRODE_RE = re.compile(_word_re(ELECTRODES).pattern, re.IGNORECASE)
_ELECTRODE_LOWER = {k.lower(): v for k, v in ELECTRODES.items()}
# "F7/T7" -> one region, not "left anterior temporal/left temporal"
_ELECTRODES_ALT = "|".join(ELECTRODES)
_ELECTRODE_PAIR = re.compile(
    rf"(?<![\w-])({_ELECTRODES_ALT})\s*(?:/|and|-)\s*({_ELECTRODES_ALT})(?![\w-])", re.IGNORECASE)
# Leading negations a query may start with; the rest is the concept asked about.
_NEG_LEAD = re.compile(r"^\s*(?:no evidence of|no definite|no clear|absence of|absent|without|"
                       r"negative for|free of|lack of|not|non|no)\b[\s-]*", re.IGNORECASE)
_NEG_TAIL = re.compile(r"\s+(?:(?:is|are|was|were)\s+)?(?:not seen|absent|not present|"
                       r"not observed|not identified|not recorded)\s*\.?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    """A parsed free-text query.

    Attributes
    ----------
    text : str
        What the user typed (whitespace collapsed).
    core : str
        The concept asked about: abbreviations expanded, negation removed.
    negated : bool
        The user asked for sessions *without* ``core`` ("no epileptiform discharges").
    """

    text: str
    core: str
    negated: bool = False


def expand(text: str) -> str:
    """Expand EEG abbreviations, electrode names and L/R shorthand into words.

    Parameters
    ----------
    text : str
        A query or a report sentence, abbreviations as clinicians write them.

    Returns
    -------
    str
        E.g. "L temporal IEDs at T3" -> "left temporal interictal epileptiform discharges at left
        temporal".
    """
    def pair(m: re.Match) -> str:
        a, b = (_ELECTRODE_LOWER[g.lower()] for g in m.groups())
        side = [w for w in ("left", "right") if w in a and w in b]
        if side and {"central", "temporal"} <= {a.split()[-1], b.split()[-1]}:
            return f"{side[0]} centrotemporal"
        if side:  # same side: "left" + the more specific region
            return a if len(a) >= len(b) else b
        return f"{a} and {b}"

    out = _ELECTRODE_PAIR.sub(pair, text)
    out = _ELECTRODE_RE.sub(lambda m: _ELECTRODE_LOWER[m.group(0).lower()], out)
    out = _SIDE.sub(lambda m: "left" if m.group(1).lower() == "l" else "right", out)

    def abbr(m: re.Match) -> str:
        word = m.group(0)
        if word in ABBREVIATIONS:
            return ABBREVIATIONS[word]
        # case-insensitive only for words of 4+ letters ("firda", "pleds"), not "ps", "sw"
        return _ABBR_LOWER[word.lower()] if len(word) >= 4 else word

    out = _ABBR_ANY.sub(abbr, out)
    return " ".join(out.split())


def parse_query(text: str) -> Query:
    """Read a clinician's query: expand abbreviations, detect a negated request.

    Parameters
    ----------
    text : str
        What the user typed (at most ``MAX_QUERY_CHARS`` characters).

    Returns
    -------
    Query
        The typed text, its core concept and whether it was negated.

    Raises
    ------
    InvalidQuery
        Empty or overlong text, or a negation whose concept cannot be isolated.
    """
    if text is None or not str(text).strip():
        raise InvalidQuery("the query is empty. Fix: type a finding, e.g. 'left temporal sharp "
                           "waves' or 'no epileptiform discharges'.")
    raw = " ".join(str(text).split())
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the query is {len(raw)} characters long (at most "
                           f"{MAX_QUERY_CHARS}). Fix: search for one finding at a time; to find "
                           "sessions like a whole report, use similar-session search.")
    expanded = expand(raw)
    polarity, _ = classify(expanded)
    if polarity == "affirmed":
        return Query(raw, expanded, False)
    core = _NEG_TAIL.sub("", _NEG_LEAD.sub("", expanded, count=1)).strip(" .")
    if not core or classify(core)[0] == "negated" or core == expanded.strip(" ."):
        raise InvalidQuery(f"cannot tell which finding {raw!r} asks to exclude. Fix: write it as "
                           "'no <finding>', e.g. 'no epileptiform discharges'.")
    return Query(raw, core, True)


# Findings that are normal (or physiological) EEG phenomena (for teaching tables and reports).
NORMAL_CONCEPTS = frozenset({"normal_pdr", "vertex_waves", "sleep_spindles", "k_complexes",
                             "photic_driving", "hv_response", "normal_eeg"})
# Prompt templates say neither "normal" nor "abnormal": polarity is the concept's own word, and
# "normal"/"abnormal" in a concept or query is contrasted with its antonym (prompt_vector).
TEMPLATES_NEUTRAL: tuple[str, ...] = ("{}", "EEG shows {}.", "There is {}.")
_POLARITY = re.compile(r"(?<![\w-])(ab)?normal(?![\w-])", re.IGNORECASE)


def templates_for(concept: str | None) -> tuple[str, ...]:
    """Prompt templates for a concept: the same neutral templates for every concept (no template
    calls a finding normal or abnormal; see :func:`prompt_vector` for polarity words)."""
    return TEMPLATES_NEUTRAL


def antonym(text: str) -> str:
    """Swap "normal" and "abnormal" ("normal EEG" -> "abnormal EEG")."""
    return _POLARITY.sub(lambda m: "normal" if m.group(1) else "abnormal", text)


def polar_antonyms(prompts) -> list[str]:
    """The antonyms of the prompts that say "normal" or "abnormal" (what :func:`prompt_vector`
    contrasts them with); empty when none does."""
    return [antonym(p) for p in prompts if _POLARITY.search(p)]


def prompt_vector(prompts, encode) -> np.ndarray:
    """Unit vector of a prompt ensemble, with polarity words contrasted.

    Sentence encoders place "normal EEG" and "abnormal EEG" almost on top of each other. Prompts
    that contain "normal" or "abnormal" are therefore contrasted with their antonyms: the vector
    is ``mean(prompts) - mean(antonyms of the polar prompts)``, renormalised, so ranking by it
    prefers sessions like the prompt over sessions like its opposite.

    Parameters
    ----------
    prompts : list of str
    encode : callable
        list of str -> (n, d) array.

    Returns
    -------
    np.ndarray
        (d,) float64, unit norm.
    """
    v = _mean_unit(encode(list(prompts)))
    opposite = polar_antonyms(prompts)
    if opposite:
        v = v - _mean_unit(encode(opposite))
        v = v / max(float(np.linalg.norm(v)), 1e-12)
    return v


def query_prompts(query: Query, templates=TEMPLATES_NEUTRAL) -> list[str]:
    """Prompts for a parsed query's core concept (the typed and the expanded wording)."""
    forms = list(dict.fromkeys([query.core] + ([] if query.negated else [query.text])))
    return [t.format(f) for f in forms for t in templates]


def query_vector(query: str, encode, reference: str | None = None, linker=None) -> np.ndarray:
    """The (d,) unit search vector of a free-text query.

    The query is parsed (:func:`parse_query`), its prompts embedded with ``encode`` (list of str
    -> (n, d) array) and averaged. A negated query ("no LPDs") returns the opposite of its core
    concept's vector, so ranking by inner product lists the sessions least like the concept.

    Parameters
    ----------
    query : str
    encode : callable
    reference : str, optional
        Contrast against this text (e.g. "normal EEG"): the vector becomes ``q - r`` (both unit),
        renormalised, so ranking by it equals ranking by ``cos(x, q) - cos(x, r)``.
    linker : clef.text.linking.ConceptLinker, optional
        Adds the linked finding's phrases and EEG description to the query (and reference)
        before negation and contrast.
    """
    q = parse_query(query)
    v = _linked(prompt_vector(query_prompts(q), encode), q, linker)
    if q.negated:
        v = -v
    if reference is not None:
        ref = parse_query(reference)
        r = _linked(prompt_vector(query_prompts(ref), encode), ref, linker)
        if np.allclose(v, r, atol=1e-6):
            raise InvalidQuery(f"the query {query!r} is its own reference. Fix: contrast it "
                               "with another text, or search without a reference.")
        v = v - r
        v = v / max(float(np.linalg.norm(v)), 1e-12)
    return v.astype(np.float32)


def _linked(v: np.ndarray, q: Query, linker) -> np.ndarray:
    return v if linker is None else linker.enrich(v, q.core)


def _mean_unit(e) -> np.ndarray:
    e = np.asarray(e, dtype=np.float64)  # (n, d)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    v = e.mean(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


__all__ = [
    "ABBREVIATIONS",
    "ELECTRODES",
    "MAX_QUERY_CHARS",
    "NORMAL_CONCEPTS",
    "TEMPLATES_NEUTRAL",
    "Query",
    "antonym",
    "expand",
    "parse_query",
    "polar_antonyms",
    "prompt_vector",
    "query_prompts",
    "query_vector",
    "templates_for",
]
