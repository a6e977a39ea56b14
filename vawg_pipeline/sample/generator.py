"""Realistic sample force returns for the NPCC VAWG review.

Four steps, each usable alone:

- ``generate_force_rows``: clean canonical rows for one force (one row per subject per
  case), with the national shape of the baseline review: about 1.3 individuals per case,
  conduct ~55% / complaint ~45% of cases, ~60% finalised, some repeat subjects.
- ``plant_quarantine_rows``: rows that the contract's row rules must quarantine, and a
  record of each (``PlantedProblem``), so tests can check the reader catches them all.
- ``style_for_force`` / ``write_return``: render the rows as the force's own messy file
  (format, headings, spellings, dates, title rows, guidance sheets, totals...).
- ``write_sample_returns``: one return per force of the registry into a landing folder,
  owner-only, with a ``SampleManifest`` of what was written, planted and personal.

``write_large_return`` writes a national-scale valid return fast, for benchmarks.
Headings and spellings come from the contract, never from lists of our own.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from vawg_pipeline.contract.fields import load_contract, normalise_value
from vawg_pipeline.forces import force_by_code, force_codes, load_forces
from vawg_pipeline.sample import vocab
from vawg_pipeline.sample.render import EXCEL_EPOCH, render_return
from vawg_pipeline.sample.style import (
    CELL_DATE_FORMATS,
    CSV_ENCODINGS,
    DATE_FORMATS,
    FORMATS,
    ReturnStyle,
    flag_styles,
    style_for_force,
)
from vawg_pipeline.sample.writers import write_sheets

__all__ = [
    "DEFAULT_PERIOD",
    "DEFAULT_RECEIVED_AT",
    "FORMATS",
    "PLANT_KINDS",
    "ForceSample",
    "PlantedProblem",
    "ReturnStyle",
    "SampleManifest",
    "generate_force_rows",
    "plan_styles",
    "plant_quarantine_rows",
    "style_for_force",
    "write_large_return",
    "write_return",
    "write_sample_returns",
]

DEFAULT_PERIOD = (date(2021, 10, 1), date(2022, 3, 31))
DEFAULT_RECEIVED_AT = datetime(2022, 5, 3, 9, 0)
# National baseline (domain.md): 1,177 cases against 1,539 individuals.
NATIONAL_INDIVIDUALS = 1500
MIN_INDIVIDUALS = 5

# ---------------------------------------------------------------- national shape
# Keys are the contract's canonical values; _check_shape() fails loudly if the
# contract drops one, so the generator can never emit a value the reader refuses.
COMPLAINT_SHARE_OF_CASES = 0.45
SUBJECTS_PER_CASE = {
    # complaints 867 individuals / 524 cases; conduct 672 / 653
    "complaint": ((1, 2, 3), (0.52, 0.31, 0.17)),
    "conduct": ((1, 2), (0.97, 0.03)),
}
ALLEGATION_CATEGORY = {
    "conduct": {"discreditable conduct": 0.48, "sexual assault": 0.19,
                "sexual harassment": 0.13, "abuse of position for sexual purpose": 0.08,
                "overbearing or harassing behaviour": 0.05, "use of force": 0.02,
                "discriminatory behaviour": 0.02, "other": 0.03},
    "complaint": {"use of force": 0.63, "overbearing or harassing behaviour": 0.09,
                  "sexual assault": 0.06, "discreditable conduct": 0.08,
                  "sexual harassment": 0.04, "discriminatory behaviour": 0.04,
                  "abuse of position for sexual purpose": 0.02, "other": 0.04},
}
VAWG_CATEGORY = {
    "conduct": {"domestic abuse": 0.42, "sexual harassment": 0.18, "sexual offence": 0.12,
                "abuse of position for a sexual purpose": 0.07, "stalking or harassment": 0.08,
                "online or image-based abuse": 0.06, "indecent exposure": 0.03,
                "other vawg": 0.04},
    "complaint": {"domestic abuse": 0.3, "sexual harassment": 0.12, "sexual offence": 0.1,
                  "abuse of position for a sexual purpose": 0.05,
                  "stalking or harassment": 0.08, "online or image-based abuse": 0.05,
                  "indecent exposure": 0.04, "other vawg": 0.26},
}
# An IOPC category that names the VAWG kind fixes it.
VAWG_FROM_ALLEGATION = {
    "sexual assault": "sexual offence",
    "sexual harassment": "sexual harassment",
    "abuse of position for sexual purpose": "abuse of position for a sexual purpose",
}
VICTIM_RELATIONSHIP = {
    "conduct": {"partner or ex-partner": 0.35, "colleague": 0.27,
                "member of the public": 0.2, "family member": 0.06, "not known": 0.12},
    "complaint": {"member of the public": 0.8, "partner or ex-partner": 0.07,
                  "family member": 0.03, "colleague": 0.01, "not known": 0.09},
}
DOMESTIC_RELATIONSHIP = {"partner or ex-partner": 0.85, "family member": 0.15}
SUBJECT_ROLE = {"police officer": 0.78, "police staff": 0.14, "special constable": 0.03,
                "pcso": 0.04, "other": 0.01}
OFFICER_RANK = {"constable": 0.7, "sergeant": 0.17, "inspector": 0.07,
                "chief inspector": 0.03, "superintendent and above": 0.03}
SUBJECT_GENDER = {"male": 0.86, "female": 0.11, "not recorded": 0.03}
RESTRICTION = {
    "conduct": {"none": 0.64, "restricted duties": 0.27, "suspended": 0.09},
    "complaint": {"none": 0.93, "restricted duties": 0.06, "suspended": 0.01},
}
CRIMINAL_INVESTIGATION = {"conduct": 0.3, "complaint": 0.1, "sexual offence": 0.7}
OUTCOME = {
    # 70% of finalised conduct and 91% of complaint allegations: no action required
    "conduct": {"no case to answer": 0.36, "no further action": 0.34,
                "reflective practice": 0.1, "management action": 0.06,
                "written warning": 0.04, "final written warning": 0.03, "dismissed": 0.03,
                "resigned or retired": 0.03, "other": 0.01},
    "complaint": {"no case to answer": 0.46, "no further action": 0.45,
                  "reflective practice": 0.04, "management action": 0.02,
                  "written warning": 0.01, "final written warning": 0.005,
                  "dismissed": 0.005, "resigned or retired": 0.005, "other": 0.005},
}
# Mean days from recording to finalisation; with the period's recording dates this
# leaves about 60% of cases finalised by the time the return is sent.
MEAN_DAYS_TO_FINALISE = {"complaint": 95.0, "conduct": 150.0}
FINALISED_WITHIN_DAYS_OF_PERIOD_END = 92
REPEAT_SUBJECT_SHARE = 0.07
OUT_OF_PERIOD_BEFORE, OUT_OF_PERIOD_AFTER = 0.05, 0.03
NOTES_BLANK, NOTES_MULTILINE = 0.15, 0.1


def _check_shape() -> None:
    contract = load_contract()
    checks: list[tuple[str, Sequence[str]]] = [
        ("case_type", list(SUBJECTS_PER_CASE)),
        ("subject_role", list(SUBJECT_ROLE)),
        ("subject_rank", [*OFFICER_RANK, "not applicable"]),
        ("subject_gender", list(SUBJECT_GENDER)),
        ("vawg_category", [*VAWG_FROM_ALLEGATION.values()]),
        ("allegation_category", list(VAWG_FROM_ALLEGATION)),
        ("victim_relationship", list(DOMESTIC_RELATIONSHIP)),
        ("status", ["ongoing", "finalised"]),
    ]
    for table, name in ((ALLEGATION_CATEGORY, "allegation_category"),
                        (VAWG_CATEGORY, "vawg_category"),
                        (VICTIM_RELATIONSHIP, "victim_relationship"),
                        (RESTRICTION, "restriction"), (OUTCOME, "outcome")):
        for dist in table.values():
            checks.append((name, list(dist)))
    for name, values in checks:
        missing = [v for v in values if v not in contract[name].values]
        if missing:
            raise ValueError(f"sample generator: {missing} are not canonical values of "
                             f"{name} in the contract")


# ---------------------------------------------------------------- helpers


def _force_rng(seed: int, code: str, stream: int) -> np.random.Generator:
    # One independent stream per force and purpose: a force's file does not change when
    # another force is added or left out.
    return np.random.default_rng([seed, zlib.crc32(code.encode()), stream])


def _choice(rng: np.random.Generator, dist: dict[str, float], size: int) -> np.ndarray:
    keys = np.array(list(dist), dtype=object)
    p = np.array(list(dist.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def _by_type(rng: np.random.Generator, table: dict[str, dict[str, float]],
             case_type: np.ndarray) -> np.ndarray:
    out = np.empty(len(case_type), dtype=object)
    for t, dist in table.items():
        mask = case_type == t
        out[mask] = _choice(rng, dist, int(mask.sum()))
    return out


def force_prefix(force_code: str) -> str:
    """Warrant-number prefix from the force's name: 'Metropolitan Police Service' -> MPS."""
    try:
        name = force_by_code(force_code).name
    except KeyError:
        name = force_code.replace("-", " ")
    words = [w for w in re.split(r"[\s-]+", name) if w.lower() not in ("and", "of", "the")]
    return "".join(w[0].upper() for w in words if w) or "XX"


def _case_references(force_code: str, case_type: np.ndarray, recorded: np.ndarray,
                     seq: np.ndarray) -> list[str]:
    # Each force has its own reference scheme; the sequence number is the longest run of
    # digits in every scheme (plant_quarantine_rows relies on that to mint new ones).
    scheme = zlib.crc32(force_code.encode()) % 6
    prefix = force_prefix(force_code)
    out = []
    for t, d, s in zip(case_type, recorded, seq, strict=True):
        yy, yyyy, tc = d.year % 100, d.year, ("CO" if t == "complaint" else "CM")
        if scheme == 0:
            out.append(f"{tc}/{s:05d}/{yy:02d}")
        elif scheme == 1:
            out.append(f"PSD-{yyyy}-{s:05d}")
        elif scheme == 2:
            out.append(f"{prefix}/{yy:02d}/{s:04d}")
        elif scheme == 3:
            out.append(f"{yyyy}/{s:06d}")
        elif scheme == 4:
            out.append(f"{tc}{yy:02d}-{s:04d}")
        else:
            out.append(f"PSD{yy:02d}{s:05d}")
    return out


def _titles(rng: np.random.Generator, role: np.ndarray, rank: np.ndarray,
            gender: np.ndarray) -> list[str]:
    picks = rng.integers(0, 1 << 30, size=len(role))
    out = []
    for r, k, g, p in zip(role, rank, gender, picks, strict=True):
        if r == "police officer" and k in vocab.RANK_TITLES:
            options = vocab.RANK_TITLES[k]
        elif r in vocab.ROLE_TITLES:
            options = vocab.ROLE_TITLES[r]
        else:
            options = vocab.CIVIL_TITLES.get(g, ("",))
        out.append(options[int(p) % len(options)])
    return out


def _names(rng: np.random.Generator, titles: list[str], gender: np.ndarray) -> list[str]:
    n = len(titles)
    female = rng.integers(0, len(vocab.FIRST_NAMES_FEMALE), n)
    male = rng.integers(0, len(vocab.FIRST_NAMES_MALE), n)
    neutral = rng.integers(0, len(vocab.FIRST_NAMES_NEUTRAL), n)
    last = rng.integers(0, len(vocab.LAST_NAMES), n)
    out = []
    for i in range(n):
        g = gender[i]
        first = (vocab.FIRST_NAMES_FEMALE[female[i]] if g == "female"
                 else vocab.FIRST_NAMES_MALE[male[i]] if g == "male"
                 else vocab.FIRST_NAMES_NEUTRAL[neutral[i]])
        out.append(" ".join(p for p in (titles[i], first, vocab.LAST_NAMES[last[i]]) if p))
    return out


def _when(d: date, days: int, latest: date) -> str:
    d = min(d + timedelta(days=days), latest)
    return f"{d.day} {vocab.MONTHS[d.month - 1]} {d.year}"


def _notes(rng: np.random.Generator, case_type: np.ndarray, recorded: np.ndarray,
           names: list[str], latest: date) -> list[str | None]:
    n = len(case_type)
    template = rng.integers(0, 1 << 30, n)
    victim = rng.integers(0, len(vocab.VICTIM_LABELS), n)
    place = rng.integers(0, len(vocab.PLACES), n)
    offset = rng.integers(1, 40, n)
    roll = rng.random(n)
    follow = rng.integers(0, len(vocab.NOTES_FOLLOW_UP), n)
    out: list[str | None] = []
    multiline_done = False
    for i in range(n):
        if roll[i] < NOTES_BLANK:
            out.append(None)
            continue
        pool = vocab.NOTES_COMPLAINT if case_type[i] == "complaint" else vocab.NOTES_CONDUCT
        fill = {"name": names[i], "victim": vocab.VICTIM_LABELS[victim[i]],
                "place": vocab.PLACES[place[i]],
                "when": _when(recorded[i], -int(offset[i]), latest)}
        text = pool[int(template[i]) % len(pool)].format(**fill)
        # Alt+Enter in a notes cell: at least one per force, so CSVs carry a quoted
        # multi-line record.
        if roll[i] > 1 - NOTES_MULTILINE or not multiline_done:
            fill["when"] = _when(recorded[i], int(offset[i]), latest)
            text += "\n" + vocab.NOTES_FOLLOW_UP[follow[i]].format(**fill)
            multiline_done = True
        out.append(text)
    return out


def _as_dates(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 -> object array of datetime.date."""
    return days.astype("datetime64[D]").astype(object)


# ---------------------------------------------------------------- clean rows


def generate_force_rows(force_code: str, n_individuals: int, rng: np.random.Generator,
                        period: tuple[date, date] = DEFAULT_PERIOD, *,
                        as_of: date | None = None) -> pd.DataFrame:
    """Clean canonical rows for one force: one row per subject per case.

    Columns are the contract's field names in contract order; categories hold canonical
    values, flags Python bools, dates ``datetime.date`` (None where blank). ``as_of`` is
    the last date any row may carry (default: period end + 31 days); pass the day before
    the file's received time so no valid date is "in the future".
    """
    _check_shape()
    contract = load_contract()
    start, end = period
    as_of = as_of or end + timedelta(days=31)
    if as_of < start:
        raise ValueError("as_of is before the start of the period")
    n = int(n_individuals)
    if n <= 0:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in contract.names})

    # --- cases: type and size, cut so the sizes add up to exactly n rows
    types_, sizes_ = [], []
    total = 0
    while total < n:
        k = max(16, int((n - total) / 1.25) + 8)
        t = np.where(rng.random(k) < COMPLAINT_SHARE_OF_CASES, "complaint", "conduct")
        s = np.empty(k, dtype=np.int64)
        for ct, (sizes, p) in SUBJECTS_PER_CASE.items():
            mask = t == ct
            s[mask] = rng.choice(np.array(sizes), size=int(mask.sum()), p=np.array(p))
        types_.append(t)
        sizes_.append(s)
        total += int(s.sum())
    case_type = np.concatenate(types_).astype(object)
    size = np.concatenate(sizes_)
    cum = np.cumsum(size)
    n_cases = int(np.searchsorted(cum, n) + 1)
    case_type, size = case_type[:n_cases], size[:n_cases].copy()
    size[-1] -= int(cum[n_cases - 1] - n)

    # --- case dates: mostly within the period, a few before or just after it
    epoch = date(1970, 1, 1)
    d0, d1, cap = ((x - epoch).days for x in (start, end, as_of))
    roll = rng.random(n_cases)
    recorded = rng.integers(d0, min(d1, cap) + 1, n_cases)
    before = roll < OUT_OF_PERIOD_BEFORE
    recorded[before] = d0 - rng.integers(1, 121, int(before.sum()))
    if cap > d1:
        after = (roll >= OUT_OF_PERIOD_BEFORE) & (roll < OUT_OF_PERIOD_BEFORE
                                                   + OUT_OF_PERIOD_AFTER)
        recorded[after] = rng.integers(d1 + 1, cap + 1, int(after.sum()))
    order = np.argsort(recorded, kind="stable")
    case_type, size, recorded = case_type[order], size[order], recorded[order]

    # --- finalisation: a case is finalised if it concluded before the return was sent
    mean = np.where(case_type == "complaint", MEAN_DAYS_TO_FINALISE["complaint"],
                    MEAN_DAYS_TO_FINALISE["conduct"])
    finalised_day = recorded + 1 + np.floor(rng.exponential(mean)).astype(np.int64)
    final_cap = min(d1 + FINALISED_WITHIN_DAYS_OF_PERIOD_END, cap)
    finalised = finalised_day <= final_cap

    allegation = _by_type(rng, ALLEGATION_CATEGORY, case_type)
    vawg = _by_type(rng, VAWG_CATEGORY, case_type)
    for alleged, kind in VAWG_FROM_ALLEGATION.items():
        vawg[allegation == alleged] = kind
    relationship = _by_type(rng, VICTIM_RELATIONSHIP, case_type)
    domestic = vawg == "domestic abuse"
    relationship[domestic] = _choice(rng, DOMESTIC_RELATIONSHIP, int(domestic.sum()))
    p_crime = np.where(case_type == "complaint", CRIMINAL_INVESTIGATION["complaint"],
                       CRIMINAL_INVESTIGATION["conduct"])
    p_crime = np.where(vawg == "sexual offence", CRIMINAL_INVESTIGATION["sexual offence"],
                       p_crime)
    criminal = rng.random(n_cases) < p_crime
    seq = rng.integers(100, 3000) + np.arange(n_cases)
    case_refs = np.array(_case_references(force_code, case_type, _as_dates(recorded), seq),
                         dtype=object)

    # --- rows: one per subject per case
    case_idx = np.repeat(np.arange(n_cases), size)
    person = np.arange(n)
    # Repeat subjects: a share of rows are a person already named in another case.
    pairs = set(zip(case_idx.tolist(), person.tolist(), strict=True))
    repeat_rows = np.flatnonzero(rng.random(n) < REPEAT_SUBJECT_SHARE)
    donors = rng.integers(0, n, len(repeat_rows))
    for i, j in zip(repeat_rows.tolist(), donors.tolist(), strict=True):
        p = int(person[j])
        if case_idx[j] == case_idx[i] or (case_idx[i], p) in pairs:
            continue
        pairs.discard((int(case_idx[i]), int(person[i])))
        pairs.add((int(case_idx[i]), p))
        person[i] = p

    role = _choice(rng, SUBJECT_ROLE, n)
    rank = np.full(n, "not applicable", dtype=object)
    officer = role == "police officer"
    rank[officer] = _choice(rng, OFFICER_RANK, int(officer.sum()))
    rank[role == "special constable"] = "constable"
    gender = _choice(rng, SUBJECT_GENDER, n)
    prefix = force_prefix(force_code)
    # Six-digit warrant numbers, unique per person (wider only for huge benchmarks).
    numbers = rng.choice(max(900_000, 2 * n), size=n, replace=False) + 100_000
    staff = (role == "police staff") | (role == "other")
    subject_refs = np.array(
        [f"{prefix}S{num % 100_000:05d}" if st else f"{prefix}{num}"
         for num, st in zip(numbers.tolist(), staff.tolist(), strict=True)], dtype=object)
    # Staff numbers are shorter, so two people might share one: make them unique again.
    _, first_idx = np.unique(subject_refs, return_index=True)
    clash = np.setdiff1d(np.arange(n), first_idx)
    subject_refs[clash] = [f"{prefix}{num}" for num in numbers[clash].tolist()]
    names = np.array(_names(rng, _titles(rng, role, rank, gender), gender), dtype=object)

    ct_row = case_type[case_idx]
    restriction = _by_type(rng, RESTRICTION, ct_row)
    outcome = _by_type(rng, OUTCOME, ct_row)
    fin_row = finalised[case_idx]
    outcome[~fin_row] = None
    recorded_row = _as_dates(recorded[case_idx])
    finalised_dates = _as_dates(finalised_day[case_idx])
    finalised_dates[~fin_row] = None
    # Each subject's role, rank, gender, name and reference follow the person.
    frame = pd.DataFrame({
        "case_reference": case_refs[case_idx],
        "case_type": ct_row,
        "date_recorded": recorded_row,
        "subject_reference": subject_refs[person],
        "subject_name": names[person],
        "subject_role": role[person],
        "subject_rank": rank[person],
        "subject_gender": gender[person],
        "vawg_category": vawg[case_idx],
        "allegation_category": allegation[case_idx],
        "victim_relationship": relationship[case_idx],
        "criminal_investigation": criminal[case_idx].astype(object),
        "restriction": restriction,
        "status": np.where(fin_row, "finalised", "ongoing").astype(object),
        "outcome": outcome,
        "date_finalised": finalised_dates,
        "notes": np.array(_notes(rng, ct_row, recorded_row, names[person].tolist(), as_of),
                          dtype=object),
    }, dtype=object)
    return frame[contract.names]


# ---------------------------------------------------------------- planted problems

PLANT_KINDS = (
    "unknown_value",
    "month_first_date",
    "unreadable_date",
    "future_date",
    "date_before_1990",
    "finalised_before_recorded",
    "finalised_without_outcome",
    "ongoing_with_outcome",
    "blank_required",
    "exact_duplicate",
    "conflicting_duplicate",
    "case_conflict",
)


@dataclass(frozen=True)
class PlantedProblem:
    """One row the contract's rules must quarantine.

    ``field`` names the offending field; for row rules it is the rule's field
    (case_reference for duplicate keys, case_type or date_recorded for a case whose rows
    disagree). ``value`` is the raw text written (None for a blank).
    """

    case_reference: str
    subject_reference: str
    field: str
    kind: str
    value: str | None = None


_DIGITS = re.compile(r"\d+")


def _mint(reference: str, taken: set[str], rng: np.random.Generator, *,
          sequential: bool = False) -> str:
    """A new reference in the same scheme: the longest run of digits renumbered.

    ``sequential``: a little above the original (case numbers run in order); otherwise
    anywhere in the run's width (warrant numbers do not).
    """
    runs = list(_DIGITS.finditer(reference))
    if not runs:
        base, width, span, current = reference + "-", 4, (len(reference) + 1,) * 2, 0
    else:
        run = max(runs, key=lambda m: len(m.group()))
        base, width, span = reference, max(len(run.group()), 3), run.span()
        current = int(run.group())
    for attempt in range(1000):
        if sequential:
            number = current + int(rng.integers(1, 200)) + attempt
        else:
            number = int(rng.integers(10 ** (width - 1), 10**width))
        candidate = base[: span[0]] + f"{number:0{width}d}" + base[span[1]:]
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    raise RuntimeError(f"could not mint a new reference like {reference!r}")


def plant_quarantine_rows(rows: pd.DataFrame, rng: np.random.Generator,
                          kinds: Sequence[str] | None = None, *,
                          received_at: datetime = DEFAULT_RECEIVED_AT,
                          ) -> tuple[pd.DataFrame, list[PlantedProblem]]:
    """Add rows the contract's row rules must quarantine (one per kind, by default all).

    New rows are copies of clean rows with a fresh case (and subject) reference and one
    thing wrong; they are scattered through the frame (an exact duplicate always after
    its original). Cells that must be written verbatim hold raw text. Returns the new
    frame and one ``PlantedProblem`` per row that must end in quarantine, so
    ``len(problems)`` is the number of quarantined rows to expect.
    """
    contract = load_contract()
    kinds = PLANT_KINDS if kinds is None else tuple(kinds)
    unknown = [k for k in kinds if k not in PLANT_KINDS]
    if unknown:
        raise ValueError(f"unknown plant kinds {unknown}; expected some of {PLANT_KINDS}")
    base = rows.reset_index(drop=True).astype(object)
    if base.empty or not kinds:
        return base, []
    received_day = received_at.date()
    last_valid = received_day - timedelta(days=1)
    cases: set[str] = set(base["case_reference"].astype(str))
    subjects: set[str] = set(base["subject_reference"].astype(str))
    records = base.to_dict("records")
    outcomes = list(contract["outcome"].values)
    pick = rng.integers

    def fresh(status: str | None = None) -> dict:
        row = dict(records[int(pick(0, len(records)))])
        row["case_reference"] = _mint(str(row["case_reference"]), cases, rng, sequential=True)
        row["subject_reference"] = _mint(str(row["subject_reference"]), subjects, rng)
        if row.get("subject_name"):
            first = vocab.FIRST_NAMES_NEUTRAL[int(pick(0, len(vocab.FIRST_NAMES_NEUTRAL)))]
            last = vocab.LAST_NAMES[int(pick(0, len(vocab.LAST_NAMES)))]
            row["subject_name"] = f"{first} {last}"
        if status == "finalised" or (status is None and row["status"] == "finalised"):
            row["status"] = "finalised"
            if not row.get("outcome"):
                row["outcome"] = outcomes[0]
            recorded = row["date_recorded"]
            if not row.get("date_finalised"):
                row["date_finalised"] = min(recorded + timedelta(days=int(pick(5, 60))),
                                            last_valid)
            if row["date_finalised"] < recorded:
                row["date_recorded"] = row["date_finalised"]
        else:
            row.update(status="ongoing", outcome=None, date_finalised=None)
        return row

    planted: list[tuple[float, dict]] = []
    problems: list[PlantedProblem] = []
    n = len(records)

    def add(row: dict, fld: str, kind: str, value: object = None, *,
            after: int | None = None) -> None:
        # Sort key: between base rows; an exact duplicate lands after its original.
        lo = -0.5 if after is None else after + 0.5
        planted.append((float(rng.uniform(lo, n - 0.5 + 1e-9)), row))
        text = None if value is None else (value.isoformat() if isinstance(value, date)
                                           else str(value))
        problems.append(PlantedProblem(str(row["case_reference"]),
                                       str(row["subject_reference"]), fld, kind, text))

    for kind in kinds:
        if kind == "unknown_value":
            options = [(f, s) for f, spellings in vocab.UNKNOWN_SPELLINGS.items()
                       if f in base for s in spellings
                       if contract[f].value_lookup.get(normalise_value(s)) is None]
            fld, spelling = options[int(pick(0, len(options)))]
            row = fresh("finalised" if fld == "outcome" else None)
            row[fld] = spelling
            add(row, fld, kind, spelling)
        elif kind in ("month_first_date", "unreadable_date"):
            on_finalised = rng.random() < 0.3
            row = fresh("finalised" if on_finalised else "ongoing")
            fld = "date_finalised" if on_finalised else "date_recorded"
            if kind == "month_first_date":
                # Day above 12, so it cannot be read day-first; never past the cut-off.
                d = row[fld].replace(day=int(pick(13, 29)))
                if d > last_valid:
                    d = (d.replace(day=1) - timedelta(days=1)).replace(day=int(pick(13, 29)))
                value = f"{d.month:02d}/{d.day:02d}/{d.year}"
            else:
                value = vocab.UNREADABLE_DATES[int(pick(0, len(vocab.UNREADABLE_DATES)))]
            row[fld] = value
            add(row, fld, kind, value)
        elif kind == "future_date":
            on_finalised = rng.random() < 0.4
            row = fresh("finalised" if on_finalised else "ongoing")
            fld = "date_finalised" if on_finalised else "date_recorded"
            row[fld] = received_day + timedelta(days=int(pick(10, 400)))
            add(row, fld, kind, row[fld])
        elif kind == "date_before_1990":
            row = fresh("ongoing")
            row["date_recorded"] = date(int(pick(1980, 1990)), int(pick(1, 13)),
                                        int(pick(1, 29)))
            add(row, "date_recorded", kind, row["date_recorded"])
        elif kind == "finalised_before_recorded":
            row = fresh("finalised")
            row["date_finalised"] = row["date_recorded"] - timedelta(days=int(pick(1, 60)))
            add(row, "date_finalised", kind, row["date_finalised"])
        elif kind == "finalised_without_outcome":
            row = fresh("finalised")
            row["outcome"] = None
            add(row, "outcome", kind)
        elif kind == "ongoing_with_outcome":
            row = fresh("ongoing")
            row["outcome"] = outcomes[int(pick(0, len(outcomes)))]
            add(row, "outcome", kind, row["outcome"])
        elif kind == "blank_required":
            options = [f.name for f in contract.required if f.blank is None
                       and f.name not in ("case_reference", "subject_reference")]
            fld = options[int(pick(0, len(options)))]
            row = fresh("ongoing" if fld == "status" else None)
            row[fld] = None
            add(row, fld, kind)
        elif kind == "exact_duplicate":
            i = int(pick(0, n))
            add(dict(records[i]), "case_reference", kind, after=i)
        elif kind == "conflicting_duplicate":
            row = fresh()
            other = dict(row)
            choices = [v for v in contract["vawg_category"].values if v != row["vawg_category"]]
            other["vawg_category"] = choices[int(pick(0, len(choices)))]
            add(row, "case_reference", kind)
            add(other, "case_reference", kind)
        elif kind == "case_conflict":
            row = fresh("ongoing")
            other = fresh("ongoing")
            other["case_reference"] = row["case_reference"]
            if rng.random() < 0.7:
                fld = "case_type"
                other["case_type"] = "conduct" if row["case_type"] == "complaint" else "complaint"
                other["date_recorded"] = row["date_recorded"]
            else:
                fld = "date_recorded"
                other["case_type"] = row["case_type"]
                other["date_recorded"] = min(row["date_recorded"] + timedelta(
                    days=int(pick(1, 20))), last_valid)
                if other["date_recorded"] == row["date_recorded"]:
                    other["date_recorded"] = row["date_recorded"] - timedelta(days=3)
            add(row, fld, kind, row[fld])
            add(other, fld, kind, other[fld])

    keyed = [(float(i), r) for i, r in enumerate(records)] + planted
    keyed.sort(key=lambda kr: kr[0])
    frame = pd.DataFrame([r for _, r in keyed], columns=list(base.columns), dtype=object)
    frame = frame.astype(object).where(frame.notna(), None)
    return frame, problems


# ---------------------------------------------------------------- writing


def write_return(rows: pd.DataFrame, path: Path, style: ReturnStyle,
                 received_at: datetime | None = None) -> Path:
    """Write ``rows`` as one force's return file in ``style``; owner-only (0o600).

    ``received_at`` becomes the file's modification time (naive = UTC, as the reader
    reads it): the contract's "not in the future" is judged against it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheets = render_return(rows, style)
    write_sheets(sheets, path, style.format, csv_encoding=style.csv_encoding,
                 xlsx_engine=style.xlsx_engine)
    os.chmod(path, 0o600)
    if received_at is not None:
        os.utime(path, (_timestamp(received_at),) * 2)
    return path


def _timestamp(when: datetime) -> float:
    # A naive received time is UTC, as the reader reads a file's modification time.
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@dataclass
class ForceSample:
    """What was written for one force."""

    force_code: str
    force_name: str
    path: Path
    format: str
    csv_encoding: str | None
    style: ReturnStyle
    rows_written: int  # data rows a reader must read (no title/header/blank/totals rows)
    cases: int  # distinct valid cases
    individuals: int  # valid subject-per-case rows
    problems: list[PlantedProblem]
    personal_strings: frozenset[str]  # names, notes, subject references as written

    @property
    def quarantined_rows(self) -> int:
        return len(self.problems)

    @property
    def stored_rows(self) -> int:
        return self.rows_written - self.quarantined_rows

    @property
    def sheets(self) -> int:
        return 2 if self.style.split_by_case_type and self.format != "csv" else 1


@dataclass
class SampleManifest:
    """Everything ``write_sample_returns`` wrote, per force code."""

    out_dir: Path
    seed: int
    scale: float
    received_at: datetime
    forces: dict[str, ForceSample] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ForceSample]:
        return iter(self.forces.values())

    def __len__(self) -> int:
        return len(self.forces)

    def __getitem__(self, code: str) -> ForceSample:
        return self.forces[code]

    @property
    def formats(self) -> set[str]:
        return {f.format for f in self}

    @property
    def rows_written(self) -> int:
        return sum(f.rows_written for f in self)

    @property
    def individuals(self) -> int:
        return sum(f.individuals for f in self)

    @property
    def cases(self) -> int:
        return sum(f.cases for f in self)

    @property
    def personal_strings(self) -> frozenset[str]:
        return frozenset().union(*(f.personal_strings for f in self))


def _format_quota(n: int) -> list[tuple[str, str | None]]:
    """Formats for n forces: xlsx most, then CSV in every encoding, xls, ods."""
    specials: list[tuple[str, str | None]] = []
    per_encoding = max(1, round(n * 0.2 / len(CSV_ENCODINGS)))
    for enc in CSV_ENCODINGS:
        specials += [("csv", enc)] * per_encoding
    specials += [("xls", None)] * max(1, round(n * 0.09))
    specials += [("ods", None)] * max(1, round(n * 0.09))
    return (specials + [("xlsx", None)] * max(0, n - len(specials)))[:n]


def _ensure(styles: dict[str, ReturnStyle], order: list[str], patched: set[str],
            has: Callable[[ReturnStyle], bool], fits: Callable[[ReturnStyle], bool],
            patch: Callable[[ReturnStyle], ReturnStyle]) -> None:
    if any(has(s) for s in styles.values()):
        return
    candidates = [c for c in order if fits(styles[c])]
    if not candidates:
        return
    code = next((c for c in candidates if c not in patched), candidates[0])
    styles[code] = patch(styles[code])
    patched.add(code)


def plan_styles(seed: int = 2021, codes: Sequence[str] | None = None) -> dict[str, ReturnStyle]:
    """The style of every force for a seed, planned nationally so every format and
    layout quirk the contract allows appears somewhere; ``codes`` picks some of them."""
    all_codes = force_codes()
    order = [str(c) for c in np.random.default_rng([seed, 0xF0]).permutation(all_codes)]
    styles = {code: style_for_force(code, _force_rng(seed, code, 1), fmt, enc)
              for code, (fmt, enc) in zip(order, _format_quota(len(order)), strict=True)}
    patched: set[str] = set()

    def sheet_ok(s: ReturnStyle) -> bool:
        return s.format != "csv"

    def xlsx(s: ReturnStyle) -> bool:
        return s.format == "xlsx"

    rules: list[tuple[Callable[[ReturnStyle], bool], Callable[[ReturnStyle], bool],
                      Callable[[ReturnStyle], ReturnStyle]]] = [
        (lambda s: s.split_by_case_type and xlsx(s), xlsx,
         lambda s: replace(s, split_by_case_type=True)),
        (lambda s: s.split_by_case_type and s.format in ("xls", "ods"),
         lambda s: s.format in ("xls", "ods"), lambda s: replace(s, split_by_case_type=True)),
        (lambda s: s.guidance_sheet, sheet_ok, lambda s: replace(s, guidance_sheet=True)),
        (lambda s: s.lookup_sheet, sheet_ok, lambda s: replace(s, lookup_sheet=True)),
        (lambda s: s.title_rows > 0 and s.merged_banner, sheet_ok,
         lambda s: replace(s, title_rows=max(s.title_rows, 4), merged_banner=True)),
        (lambda s: s.title_rows >= 10, sheet_ok, lambda s: replace(s, title_rows=22)),
        (lambda s: s.title_rows > 0 and s.format == "csv", lambda s: s.format == "csv",
         lambda s: replace(s, title_rows=3)),
        (lambda s: s.totals_row, lambda s: True, lambda s: replace(s, totals_row=True)),
        (lambda s: s.totals_row and s.format == "csv", lambda s: s.format == "csv",
         lambda s: replace(s, totals_row=True)),
        (lambda s: s.blank_rows, lambda s: True, lambda s: replace(s, blank_rows=True)),
        (lambda s: s.blank_columns, lambda s: True, lambda s: replace(s, blank_columns=True)),
        (lambda s: s.typed_flags, sheet_ok,
         lambda s: _with_flags(replace(s, typed_flags=True), "TRUE/FALSE")),
        (lambda s: s.date_text_fraction > 0, lambda s: s.date_format == "excel_date",
         lambda s: replace(s, date_text_fraction=0.15)),
        (lambda s: xlsx(s) and s.xlsx_engine == "openpyxl", xlsx,
         lambda s: replace(s, xlsx_engine="openpyxl")),
        (lambda s: xlsx(s) and s.xlsx_engine == "xlsxwriter", xlsx,
         lambda s: replace(s, xlsx_engine="xlsxwriter")),
    ]
    for fmt in DATE_FORMATS:
        rules.append((
            lambda s, fmt=fmt: s.date_format == fmt,
            lambda s, fmt=fmt: (s.format != "csv" or fmt not in CELL_DATE_FORMATS)
            and sum(o.date_format == s.date_format for o in styles.values()) > 1,
            lambda s, fmt=fmt: replace(s, date_format=fmt),
        ))
    for flag in flag_styles():
        rules.append((
            lambda s, flag=flag: s.flag_style == flag,
            lambda s: not s.typed_flags
            and sum(o.flag_style == s.flag_style for o in styles.values()) > 1,
            lambda s, flag=flag: _with_flags(s, flag),
        ))
    for has, fits, patch in rules:
        _ensure(styles, order, patched, has, fits, patch)
    wanted = all_codes if codes is None else list(codes)
    return {code: styles[code] if code in styles else
            style_for_force(code, _force_rng(seed, code, 1)) for code in wanted}


def _with_flags(style: ReturnStyle, flag: str) -> ReturnStyle:
    true_text, false_text = flag_styles()[flag]
    spellings = {**style.value_spellings,
                 "criminal_investigation": {"true": true_text, "false": false_text}}
    return replace(style, flag_style=flag, value_spellings=spellings)


def _plant_plan(seed: int, sizes: dict[str, int]) -> dict[str, tuple[str, ...]]:
    """Which problems each force gets: a few each, bigger forces more, every kind used."""
    rng = np.random.default_rng([seed, 0xBAD])
    cycle = [str(k) for k in rng.permutation(PLANT_KINDS)]
    pointer, plan = 0, {}
    for code, n in sizes.items():
        k = int(np.clip(2 + n // 30, 2, len(PLANT_KINDS)))
        chosen = [cycle[(pointer + j) % len(cycle)] for j in range(k)]
        pointer += k
        plan[code] = tuple(chosen)
    return plan


def _volumes(seed: int, scale: float) -> dict[str, int]:
    forces = load_forces()
    officers = sum(f.approx_officers for f in forces) or 1
    sizes = {}
    for f in forces:
        noise = float(_force_rng(seed, f.code, 4).lognormal(0.0, 0.12))
        share = f.approx_officers / officers
        sizes[f.code] = max(MIN_INDIVIDUALS, round(scale * NATIONAL_INDIVIDUALS * share * noise))
    return sizes


def write_sample_returns(out_dir: Path, seed: int = 2021, scale: float = 1.0,
                         forces: list[str] | None = None,
                         received_at: datetime = DEFAULT_RECEIVED_AT,
                         plant_problems: bool = True) -> SampleManifest:
    """Write one sample return per force into ``out_dir/<force_code>/``.

    Volumes follow ``approx_officers`` (about 1,500 individuals nationally at scale 1).
    Folders are owner-only (0o700) and files 0o600: they hold (fake) personal data.
    Every file's modification time is ``received_at``.
    """
    out_dir = Path(out_dir)
    codes = force_codes() if forces is None else list(forces)
    for code in codes:
        force_by_code(code)  # unknown codes fail before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    styles = plan_styles(seed, codes)
    sizes = _volumes(seed, scale)
    plants = _plant_plan(seed, sizes)
    as_of = received_at.date() - timedelta(days=1)
    manifest = SampleManifest(out_dir=out_dir, seed=seed, scale=scale, received_at=received_at)
    for code in codes:
        force = force_by_code(code)
        style = styles[code]
        rows = generate_force_rows(code, sizes[code], _force_rng(seed, code, 2), as_of=as_of)
        n_cases = int(rows["case_reference"].nunique())
        n_individuals = len(rows)
        problems: list[PlantedProblem] = []
        if plant_problems:
            rows, problems = plant_quarantine_rows(rows, _force_rng(seed, code, 3),
                                                   plants[code], received_at=received_at)
        folder = out_dir / code
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o700)
        path = write_return(rows, folder / style.file_name, style, received_at)
        written = set(style.written_fields())
        personal = {
            str(v) for name in ("subject_reference", "subject_name", "notes")
            if name in written for v in rows[name].tolist() if isinstance(v, str) and v
        }
        manifest.forces[code] = ForceSample(
            force_code=code, force_name=force.name, path=path, format=style.format,
            csv_encoding=style.csv_encoding if style.format == "csv" else None,
            style=style, rows_written=len(rows), cases=n_cases, individuals=n_individuals,
            problems=problems, personal_strings=frozenset(personal),
        )
    return manifest


# ---------------------------------------------------------------- national scale


def write_large_return(path: Path, n_rows: int, rng: np.random.Generator,
                       force_code: str = "metropolitan") -> Path:
    """A big, valid, plain .xlsx return (benchmarks): first headings, canonical values,
    real date cells, written streaming (xlsxwriter constant_memory)."""
    import xlsxwriter

    contract = load_contract()
    rows = generate_force_rows(force_code, n_rows, rng)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    true_text, false_text = next(iter(flag_styles().values()))
    epoch = np.datetime64(EXCEL_EPOCH, "D")
    columns: list[tuple[str, list]] = []
    for f in contract.fields:
        values = rows[f.name]
        if f.kind == "date":
            mask = values.isna().to_numpy()
            days = np.zeros(len(values), dtype=np.int64)
            days[~mask] = (values[~mask].to_numpy().astype("datetime64[D]") - epoch).astype(
                np.int64)
            columns.append(("d", [None if m else int(d) for m, d in
                                  zip(mask.tolist(), days.tolist(), strict=True)]))
        elif f.kind == "flag":
            columns.append(("s", [true_text if v else false_text for v in values.tolist()]))
        else:
            columns.append(("s", [v if isinstance(v, str) and v else None
                                  for v in values.tolist()]))
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                         "strings_to_numbers": False,
                                         "strings_to_formulas": False,
                                         "strings_to_urls": False})
    wb.set_properties({"created": DEFAULT_RECEIVED_AT})
    ws = wb.add_worksheet("Return")
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    bold = wb.add_format({"bold": True})
    for c, f in enumerate(contract.fields):
        ws.write_string(0, c, f.headings[0] if f.headings else f.name, bold)
    # Per-cell calls are the cost here; bind them once.
    write_string, write_number = ws.write_string, ws.write_number
    for r in range(len(rows)):
        row = r + 1
        for c, (kind, cells) in enumerate(columns):
            value = cells[r]
            if value is None:
                continue
            if kind == "s":
                write_string(row, c, value)
            else:
                write_number(row, c, value, date_fmt)
    wb.close()
    os.chmod(path, 0o600)
    return path
