"""The landing folder: one sub-folder per force code, the newest file is the return.

Office lock files, hidden files and files of a format the contract does not list are
ignored and reported, never ingested; so are folders that are not a force code.
Older files stay where they are: the pipeline never deletes what a force sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vawg_pipeline.ingest.reader import ACCEPTED_FORMATS


@dataclass
class ForceFolder:
    force_code: str
    current: Path | None  # the newest accepted-format file, the force's return
    older: list[Path] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


@dataclass
class LandingScan:
    forces: dict[str, ForceFolder]
    unknown_folders: list[str]
    stray_files: list[str]  # files at the landing folder's top level


def ignore_reason(path: Path) -> str | None:
    """Why a file in a force's folder is not a return, or None if it is a candidate."""
    name = path.name
    if name.startswith("~$") or name.startswith(".~lock"):
        return "an Office lock file (the workbook was open when it was copied)"
    if name.startswith("."):
        return "a hidden file"
    if path.is_dir():
        return "a folder inside the force's folder"
    if path.suffix.lower() not in ACCEPTED_FORMATS:
        return (f"format {path.suffix or '(none)'} is not accepted "
                f"({', '.join(ACCEPTED_FORMATS)})")
    return None


def scan_force_folder(folder: Path, force_code: str) -> ForceFolder:
    candidates: list[Path] = []
    ignored: list[tuple[str, str]] = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            reason = ignore_reason(path)
            if reason is None:
                candidates.append(path)
            else:
                ignored.append((path.name, reason))
    # Newest by modification time; the name breaks a tie so the choice is stable.
    candidates.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    return ForceFolder(
        force_code=force_code,
        current=candidates[0] if candidates else None,
        older=candidates[1:],
        ignored=ignored,
    )


def scan_landing(root: Path, force_codes: list[str]) -> LandingScan:
    root = Path(root)
    known = set(force_codes)
    unknown: list[str] = []
    stray: list[str] = []
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.is_dir() and entry.name not in known and not entry.name.startswith("."):
                unknown.append(entry.name)
            elif entry.is_file() and not entry.name.startswith("."):
                stray.append(entry.name)
    return LandingScan(
        forces={code: scan_force_folder(root / code, code) for code in force_codes},
        unknown_folders=unknown,
        stray_files=stray,
    )
