"""Per-force feedback workbooks: what the national team did with each force's return.

For every force with a current return or a refused newest file, ``<force-code>.xlsx``
in the feedback folder lists every quarantined row of its current return (sheet, row
number, field, the problem, how to fix it), its row counts and file name, and for a
refused file why it could not be read and what to do.

Built only from the national store's ``forces``, ``submissions`` and ``quarantine``
tables, filtered to the one force: names and notes never reach the store, the quarantine
holds no personal values, and no other force's rows are ever read into a workbook.

A workbook is rewritten only when what it shows changes: a small JSON manifest (kept
outside the feedback folder, which holds only the forces' workbooks) records per force a
fingerprint of its inputs (its submissions, its quarantine rows, its name, and the code
and contract that word the advice) and the SHA-256 of the workbook written from them. A
force whose fingerprint and workbook are as recorded keeps its workbook (and the time
it was generated); most nights no force's return changes.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import xlsxwriter

from vawg_pipeline.contract import Contract, load_contract
from vawg_pipeline.feedback.advice import (
    UNTIL_FIXED,
    field_guide,
    headings_text,
    how_to_fix,
    refusal_advice,
)
from vawg_pipeline.privacy import make_owner_only_dir

ROWS_SHEET = "Rows to fix"
SUMMARY_SHEET = "Summary"
GUIDE_SHEET = "Accepted values"
PROBLEM_COLUMNS = ["Sheet", "Row", "Field", "Column headings", "Value", "Problem",
                   "How to fix"]
# Text cells must stay text: never a formula, link or number (formula injection).
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False,
                    # Assemble in memory: no dozen temporary files per small workbook.
                    "in_memory": True}


@dataclass
class ForceFeedback:
    """Everything one force's workbook shows (and nothing about any other force)."""

    force_code: str
    force_name: str
    current: dict | None  # the accepted submission in use, if any
    refused: dict | None  # the newest file, when it was refused
    problems: pd.DataFrame  # sheet, row_number, field, value, reason (current return)

    @property
    def rows_quarantined(self) -> int:
        return int(self.current["rows_quarantined"]) if self.current else 0


@dataclass(frozen=True)
class FeedbackWritten:
    force_code: str
    path: Path
    status: str  # accepted | refused
    file_name: str
    rows_read: int | None
    rows_stored: int | None
    rows_quarantined: int | None
    problems: int
    rewritten: bool = True  # False: inputs unchanged, the workbook in place was kept


MANIFEST_VERSION = 1


def _code_fingerprint() -> str:
    """Hash of what words a workbook besides the store: this package and the contract."""
    digest = hashlib.sha256(f"v{MANIFEST_VERSION}".encode())
    here = Path(__file__).resolve().parent
    contract = here.parent / "contract"
    for path in [*sorted(here.glob("*.py")), *sorted(contract.glob("*.py")),
                 *sorted(contract.glob("*.toml"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


CODE_FINGERPRINT = _code_fingerprint()

# Per force with an accepted or refused file: a hash of everything its workbook shows
# from the store, in one query (each value JSON-encoded, so a NULL is not a blank).
FINGERPRINT_SQL = """
    WITH shown AS (
        SELECT DISTINCT force_code FROM submissions WHERE status IN ('accepted', 'refused')
    ), files AS (
        SELECT force_code, md5(string_agg(to_json([status, sha256, file_name,
                   CAST(received_at AS VARCHAR), CAST(rows_read AS VARCHAR),
                   CAST(rows_stored AS VARCHAR), CAST(rows_quarantined AS VARCHAR), error]
               )::VARCHAR, chr(10) ORDER BY ALL)) AS files_hash
        FROM submissions WHERE status IN ('accepted', 'refused') GROUP BY force_code
    ), problems AS (
        SELECT force_code, md5(string_agg(to_json([sheet, CAST(row_number AS VARCHAR),
                   field, value, reason])::VARCHAR, chr(10) ORDER BY ALL)) AS problems_hash
        FROM quarantine GROUP BY force_code
    )
    SELECT shown.force_code, to_json([f.force_name, files.files_hash,
                                      problems.problems_hash])::VARCHAR
    FROM shown
    LEFT JOIN forces f USING (force_code)
    LEFT JOIN files USING (force_code)
    LEFT JOIN problems USING (force_code)
"""


def feedback_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per force with a return or refusal: the fingerprint of its workbook's inputs."""
    return {code: hashlib.sha256(f"{CODE_FINGERPRINT}\n{shown}".encode()).hexdigest()
            for code, shown in con.execute(FINGERPRINT_SQL).fetchall()}


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(path: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """The manifest's entries per force, or none if it is missing, unreadable, of another
    version or about another feedback folder (then every workbook is rewritten)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("version") != MANIFEST_VERSION \
            or document.get("folder") != str(Path(folder).resolve()):
        return {}
    forces = document.get("forces")
    return forces if isinstance(forces, dict) else {}


def write_manifest(path: Path, folder: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Replace the manifest atomically, owner-only."""
    path = Path(path)
    make_owner_only_dir(path.parent)
    document = {"version": MANIFEST_VERSION, "folder": str(Path(folder).resolve()),
                "forces": dict(sorted(entries.items()))}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _kept(entry: dict[str, Any] | None, fingerprint: str | None, path: Path
          ) -> FeedbackWritten | None:
    """The recorded workbook, if its inputs are unchanged and it is still as written."""
    if entry is None or fingerprint is None or entry.get("fingerprint") != fingerprint:
        return None
    try:
        if _file_sha256(path) != entry.get("workbook_sha256"):
            return None  # deleted, damaged or edited: write it again
        return FeedbackWritten(**{**entry["written"], "path": path, "rewritten": False})
    except (OSError, KeyError, TypeError):
        return None


def feedback_forces(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Forces with a current (accepted) return or a refused file, in code order."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT force_code FROM submissions "
        "WHERE status IN ('accepted', 'refused') ORDER BY 1").fetchall()]


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict | None:
    # A plain row, not a one-row DataFrame: building frames was most of the load time.
    row = con.execute(sql, params).fetchone()
    return None if row is None else dict(zip([d[0] for d in con.description], row,
                                             strict=True))


def load_force_feedback(con: duckdb.DuckDBPyConnection, force_code: str) -> ForceFeedback:
    """One force's feedback, read from the store with every query bound to that force."""
    name = con.execute("SELECT force_name FROM forces WHERE force_code = ?",
                       [force_code]).fetchone()
    current = _one(con, """
        SELECT file_name, received_at, rows_read, rows_stored, rows_quarantined
        FROM submissions WHERE force_code = ? AND status = 'accepted'
        ORDER BY received_at DESC LIMIT 1""", [force_code])
    refused = _one(con, """
        SELECT file_name, received_at, error FROM submissions
        WHERE force_code = ? AND status = 'refused' ORDER BY received_at DESC LIMIT 1""",
                   [force_code])
    if refused is not None and current is not None \
            and refused["received_at"] < current["received_at"]:
        refused = None  # an older refused file was since replaced by an accepted one
    problems = con.execute("""
        SELECT sheet, row_number, field, value, reason FROM quarantine
        WHERE force_code = ? ORDER BY sheet, row_number, field, reason""",
                           [force_code]).df()
    return ForceFeedback(force_code=force_code, force_name=name[0] if name else force_code,
                         current=current, refused=refused, problems=problems)


def problem_rows(problems: pd.DataFrame, contract: Contract | None = None) -> pd.DataFrame:
    """The "Rows to fix" table: one line per problem, with the advice."""
    contract = contract or load_contract()
    if problems.empty:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)

    def headings(field: str) -> str:
        return headings_text(contract[field]) if field in contract.names else field

    # Advice depends only on (field, reason): computed once per distinct pair.
    pairs = problems[["field", "reason"]].drop_duplicates()
    advice = {(f, r): how_to_fix(f, r, contract) for f, r in pairs.itertuples(index=False)}
    return pd.DataFrame({
        "Sheet": problems["sheet"],
        "Row": problems["row_number"].astype(int),
        "Field": problems["field"],
        "Column headings": problems["field"].map(headings),
        "Value": problems["value"],
        "Problem": problems["reason"],
        "How to fix": [advice[(f, r)] for f, r in zip(problems["field"],
                                                        problems["reason"], strict=True)],
    })


def _summary_lines(fb: ForceFeedback, generated_at: datetime) -> list[tuple[str, object]]:
    lines: list[tuple[str, object]] = [
        ("Force", f"{fb.force_name} ({fb.force_code})"),
        ("Feedback generated (UTC)", generated_at),
    ]
    if fb.refused is not None:
        lines += [
            ("Newest file", fb.refused["file_name"]),
            ("Newest file received (UTC)", fb.refused["received_at"]),
            ("Newest file status", "refused: the file could not be read"),
            ("Why it could not be read", _strip_file(fb.refused["error"],
                                                     fb.refused["file_name"])),
            ("What to do", refusal_advice(str(fb.refused["error"]))),
        ]
    if fb.current is not None:
        problems = len(fb.problems)
        lines += [
            ("Return in use", fb.current["file_name"]),
            ("Return received (UTC)", fb.current["received_at"]),
            ("Return status", "accepted"),
            ("Rows read", int(fb.current["rows_read"])),
            ("Rows stored", int(fb.current["rows_stored"])),
            ("Rows quarantined", int(fb.current["rows_quarantined"])),
            ("Problems to fix", problems),
            ("What to do about the rows", (
                f"Correct the rows listed on the '{ROWS_SHEET}' sheet in your own system "
                "or spreadsheet and send the whole return again: a new file replaces "
                "this one as a whole." if problems else
                "Nothing: every row of the return was accepted.")),
        ]
    else:
        lines.append(("Return in use", "none: no return from this force has been accepted "
                      "yet"))
    return lines


def _strip_file(error: object, file_name: object) -> str:
    text = str(error or "")
    prefix = f"{file_name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def write_workbook(fb: ForceFeedback, path: Path, generated_at: datetime,
                   contract: Contract | None = None) -> Path:
    """Write one force's workbook atomically, owner-only (0600)."""
    contract = contract or load_contract()
    path = Path(path)
    make_owner_only_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{fb.force_code}-", suffix=".xlsx",
                                    dir=path.parent)  # mkstemp creates it 0600
    os.close(fd)
    try:
        _write(fb, Path(tmp_name), generated_at, contract)
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)  # a force's reader never sees half a workbook
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _write(fb: ForceFeedback, path: Path, generated_at: datetime, contract: Contract
           ) -> None:
    wb = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    wb.set_properties({"title": f"VAWG return feedback: {fb.force_code}",
                       "author": "NPCC VAWG national collation"})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm", "align": "left"})
    header = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1,
                            "text_wrap": True, "valign": "top"})

    summary = wb.add_worksheet(SUMMARY_SHEET)
    summary.write_string(0, 0, "NPCC VAWG return: feedback from the national collation",
                         title)
    summary.set_column(0, 0, 28)
    summary.set_column(1, 1, 100)
    row = 2
    for key, value in _summary_lines(fb, generated_at):
        summary.write_string(row, 0, key, bold)
        if isinstance(value, (datetime, pd.Timestamp)):
            summary.write_datetime(row, 1, pd.Timestamp(value).to_pydatetime(), when)
        elif isinstance(value, int):
            summary.write_number(row, 1, value)
        else:
            summary.write_string(row, 1, str(value), wrap)
        row += 1
    row += 1
    summary.write_string(row, 0, "Please note", bold)
    summary.write_string(row, 1, (
        "This workbook is about your force's return only. Row numbers are as your "
        "spreadsheet program shows them (counting title and header rows). Names and "
        "notes are never kept by the national collation. " + UNTIL_FIXED), wrap)

    rows = wb.add_worksheet(ROWS_SHEET)
    table = problem_rows(fb.problems, contract)
    widths = [18, 7, 22, 30, 22, 60, 80]
    for c, (name, width) in enumerate(zip(PROBLEM_COLUMNS, widths, strict=True)):
        rows.write_string(0, c, name, header)
        rows.set_column(c, c, width)
    rows.freeze_panes(1, 0)
    if table.empty:
        rows.write_string(1, 0, "No rows need fixing." if fb.current is not None
                          else "No return from this force has been read yet.")
    for r, record in enumerate(table.itertuples(index=False), start=1):
        for c, value in enumerate(record):
            if c == 1:
                rows.write_number(r, c, int(value))
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                rows.write_blank(r, c, None)
            else:
                rows.write_string(r, c, str(value), wrap)
    if not table.empty:
        rows.autofilter(0, 0, len(table), len(PROBLEM_COLUMNS) - 1)

    guide = wb.add_worksheet(GUIDE_SHEET)
    lines = field_guide(contract)
    columns = list(lines[0])
    for c, (name, width) in enumerate(zip(columns, [24, 50, 14, 90, 60], strict=True)):
        guide.write_string(0, c, name.capitalize(), header)
        guide.set_column(c, c, width)
    guide.freeze_panes(1, 0)
    for r, line in enumerate(lines, start=1):
        for c, name in enumerate(columns):
            guide.write_string(r, c, line[name], wrap)
    wb.close()


def write_all_feedback(
    con: duckdb.DuckDBPyConnection, folder: Path, generated_at: datetime,
    force_codes: Iterable[str] | None = None, manifest: Path | None = None,
) -> list[FeedbackWritten]:
    """A workbook for every force with a return or refusal (or those given).

    manifest: where the inputs of each workbook are recorded (a JSON file outside
        ``folder``). With it, a force whose inputs and workbook are as recorded keeps
        its workbook (``rewritten`` False); without it, every workbook is written.
    """
    contract = load_contract()
    folder = make_owner_only_dir(Path(folder))
    recorded = read_manifest(manifest, folder) if manifest is not None else {}
    fingerprints = feedback_fingerprints(con) if manifest is not None else {}
    # Entries of forces not asked about this time stay; the others are rebuilt below.
    codes = list(force_codes) if force_codes is not None else feedback_forces(con)
    entries = ({c: e for c, e in recorded.items() if c not in codes}
               if force_codes is not None else {})
    written = []
    for code in codes:
        path = folder / f"{code}.xlsx"
        kept = _kept(recorded.get(code), fingerprints.get(code), path)
        if kept is not None:
            written.append(kept)
            entries[code] = recorded[code]
            continue
        fb = load_force_feedback(con, code)
        if fb.current is None and fb.refused is None:
            continue
        path = write_workbook(fb, path, generated_at, contract)
        shown = fb.refused if fb.refused is not None else fb.current
        done = FeedbackWritten(
            force_code=code, path=path,
            status="refused" if fb.refused is not None else "accepted",
            file_name=str(shown["file_name"]),
            rows_read=int(fb.current["rows_read"]) if fb.current else None,
            rows_stored=int(fb.current["rows_stored"]) if fb.current else None,
            rows_quarantined=int(fb.current["rows_quarantined"]) if fb.current else None,
            problems=len(fb.problems),
        )
        written.append(done)
        if code in fingerprints:
            record = {k: v for k, v in asdict(done).items() if k not in ("path", "rewritten")}
            entries[code] = {"fingerprint": fingerprints[code],
                             "workbook_sha256": _file_sha256(path), "written": record}
    if manifest is not None:
        write_manifest(manifest, folder, entries)
    return written


def remove_stale_feedback(folder: Path, keep: Iterable[str], known_codes: Iterable[str]
                          ) -> list[str]:
    """Delete workbooks of registry forces that no longer have a return (withdrawn)."""
    keep, removed = set(keep), []
    for code in known_codes:
        path = Path(folder) / f"{code}.xlsx"
        if code not in keep and path.exists():
            path.unlink()
            removed.append(code)
    return removed
