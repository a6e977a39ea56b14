"""What a force should do about each problem, in plain words, derived from the contract.

The "how to fix" text is built from ``return_contract.toml`` (headings, canonical values
and their accepted spellings, which fields are required) and from the reader's own lists
(date forms, file formats, how far down the header may sit), so a new spelling or heading
added to the contract shows up in every force's feedback with no code change.
"""

from datetime import datetime
from functools import cache

from vawg_pipeline.contract import Contract, ContractField, load_contract
from vawg_pipeline.contract.schema import CHECK_REASONS, EARLIEST_DATE
from vawg_pipeline.ingest.normalise import DATE_FORMATS
from vawg_pipeline.ingest.reader import ACCEPTED_FORMATS, HEADER_SEARCH_ROWS

_EXAMPLE_DATE = datetime(2021, 10, 5)
UNTIL_FIXED = ("Until a corrected file arrives, your previous accepted return (if any) "
               "stays in the national collation.")


def headings_text(f: ContractField) -> str:
    """The headings a force may use for a field, e.g. "Role / Subject Type / Officer/Staff"."""
    return " / ".join(f.headings) if f.headings else f.name


def label(f: ContractField) -> str:
    return f"{f.headings[0] if f.headings else f.name} ({f.name})"


def values_text(f: ContractField) -> str:
    """Accepted values: canonical first, then the other spellings that mean the same."""
    parts = []
    for canonical, spellings in f.values.items():
        others = [s for s in spellings if s != canonical]
        parts.append(f"{canonical} (or {', '.join(others)})" if others else canonical)
    text = "; ".join(parts)
    if f.blank:
        text += f". A blank cell means {f.blank}"
    return text


def flag_text(f: ContractField) -> str:
    yes, no = f.values.get("true", ()), f.values.get("false", ())
    return (f"Write {yes[1] if len(yes) > 1 else 'Y'} or {no[1] if len(no) > 1 else 'N'} "
            f"(also accepted: {', '.join(yes[2:])} for yes; {', '.join(no[2:])} for no; "
            "any case)")


@cache
def date_forms_text() -> str:
    """Every day-first form the reader accepts, shown on 5 October 2021."""
    examples: list[str] = []
    for fmt in DATE_FORMATS:
        if "%H" in fmt:
            continue
        shown = _EXAMPLE_DATE.strftime(fmt)
        if shown not in examples:
            examples.append(shown)
    return ("Write the date day-first, as a date cell or as text such as "
            f"{', '.join(examples)} (all mean 5 October 2021); never month-first")


def how_to_fix(field: str, reason: str, contract: Contract | None = None) -> str:
    """Plain-words advice for one quarantine problem (its field and reason)."""
    contract = contract or load_contract()
    f = contract[field] if field in contract.names else None
    name = label(f) if f is not None else field
    status = contract["status"]

    def when(check: str) -> bool:
        return CHECK_REASONS[check][1] in reason

    if when("duplicate_row"):
        return ("This row repeats an earlier row exactly and has been counted once. "
                "Delete the repeated row.")
    if when("conflicting_key"):
        return ("Two or more rows have this case reference and the same subject (warrant, "
                "staff or collar number) but different details. Keep one row per subject "
                "per case: correct the wrong row or delete it.")
    if when("case_fields_disagree"):
        return ("Every row of one case must give the same case type and date recorded: "
                "make them agree on all rows of this case reference.")
    if when("finalised_needs_outcome"):
        return (f"Give the outcome. {_accepted(contract['outcome'])}. If the case is not "
                f"finished, set {label(status)} to ongoing instead.")
    if when("finalised_needs_date_finalised"):
        return (f"Give the date the case was finalised. {date_forms_text()}. If the case "
                f"is not finished, set {label(status)} to ongoing instead.")
    if when("ongoing_has_no_outcome") or when("ongoing_has_no_date_finalised"):
        finalised = ", ".join(status.values.get("finalised", ("finalised",)))
        return (f"An ongoing case has no {name} yet: clear it, or, if the case has "
                f"concluded, set {label(status)} to finalised ({finalised}).")
    if when("date_finalised_not_before_recorded"):
        return ("A case cannot be finalised before it was recorded: check both dates "
                f"(date recorded and date finalised). {date_forms_text()}.")
    if when("date_recorded_not_in_future") or when("date_finalised_not_in_future"):
        return (f"Check {name}: it is later than the day the file was sent, which usually "
                f"means a typing error or a month-first date. {date_forms_text()}.")
    if when("not_before_1990"):
        return (f"Check {name}: dates before {EARLIEST_DATE.year} are not accepted; correct "
                "the year.")
    if when("readable_date"):
        return f"{date_forms_text()}."
    if "is blank, but a value is required" in reason:
        extra = f" {_accepted(f)}." if f is not None and f.kind != "text" else ""
        return f"Fill in {name}: it is required on every row.{extra}"
    if "is not a yes/no flag" in reason and f is not None:
        return f"{flag_text(f)}."
    if "is not an accepted value" in reason and f is not None:
        return f"{_accepted(f)}."
    if f is not None:
        return f"Correct {name} so it matches the return's guidance: {f.description}"
    return "Correct this row so it matches the return's guidance."


def _accepted(f: ContractField) -> str:
    if f.kind == "flag":
        return flag_text(f)
    if f.kind == "date":
        return date_forms_text()
    if f.values:
        return f"Use one of the accepted values for {label(f)}: {values_text(f)}"
    return f"Give {label(f)}"


def refusal_advice(error: str, contract: Contract | None = None) -> str:
    """What to do about a refused file, from the refusal's own words."""
    contract = contract or load_contract()
    text = error.lower()
    formats = ", ".join(ACCEPTED_FORMATS)
    resave = ("Open the file in Excel to check it is complete, save it as an Excel "
              "Workbook (.xlsx) and send it again.")
    if "required column(s) missing" in text:
        missing = [f for f in contract.required if f.name in error]
        listed = "; ".join(f"{f.name}: {headings_text(f)}" for f in missing)
        advice = ("Add the missing column(s) to the header row of your data sheet, with "
                  f"one of the accepted headings — {listed}.")
    elif "password-protected" in text or "encrypted" in text:
        advice = ("Remove the workbook's password (in Excel: File > Info > Protect "
                  "Workbook > Encrypt with Password, clear it), save, and send it again.")
    elif "empty" in text or "holds no data" in text:
        advice = ("The file has no content, so the copy or upload probably failed. "
                  "Send the completed return again.")
    elif "no sheet looks like the return" in text:
        listed = "; ".join(f"{f.name}: {headings_text(f)}" for f in contract.required)
        advice = ("Put the column headings of the return in one row within the first "
                  f"{HEADER_SEARCH_ROWS} rows of a sheet, including every required "
                  f"column — {listed}.")
    elif "neither utf-8 nor windows-1252" in text:
        advice = ("Save the CSV as \"CSV UTF-8\" (or save the return as .xlsx) and send "
                  "it again.")
    elif "is not accepted" in text:
        advice = f"Save the return in an accepted format ({formats}) and send it again."
    else:
        advice = resave
    return f"{advice} {UNTIL_FIXED}"


def field_guide(contract: Contract | None = None) -> list[dict[str, str]]:
    """One line per field a force sends: headings, whether required, accepted values."""
    contract = contract or load_contract()
    guide = []
    for f in contract.fields:
        if f.kind == "flag":
            values = flag_text(f)
        elif f.kind == "date":
            values = date_forms_text()
        elif f.values:
            values = values_text(f)
        else:
            values = "any text"
        needed = "yes" if f.required else ("when finalised" if f.when_finalised else "no")
        guide.append({"field": f.name, "headings": headings_text(f), "required": needed,
                      "accepted values": values, "meaning": f.description})
    return guide
