"""Releases: each publication kept whole, and the latest swapped in atomically.

Layout, beside the published DuckDB file (``VAWG_PUBLISHED``, default
``data/published/vawg_published.duckdb``)::

    vawg_published.duckdb         the latest release's tables (read-only copy)
    vawg_published.xlsx           its workbook
    vawg_published_chart.png      its headline chart
    csv/<table>.csv               its tables as CSV
    releases/<release-id>/        every release, whole: the same files + manifest.json

A release is written completely in ``releases/.building-<id>/`` and renamed to
``releases/<id>/`` (one atomic rename). Then each live file is replaced by copying the
release's file to a temporary name in the same folder and ``os.replace``-ing it over
the old one. A rename never blocks on, nor disturbs, an analyst who has the old file
open read-only: their open handle keeps reading the old, complete file; the next open
gets the new one. Nothing is ever written in place, so no one sees a half-written
file. The pipeline never opens the live files themselves.

No new release is made when the published content hash (numbers, display values,
catalogue, coverage, period) equals the latest release's: the live files are then only
checked against that release's manifest and restored from it if they differ.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from vawg_pipeline.fileops import install_atomically
from vawg_pipeline.ingest.returns import file_sha256
from vawg_pipeline.publish.chart import draw_chart
from vawg_pipeline.publish.files import (
    ReleaseInfo,
    published_table_names,
    write_csvs,
    write_published_duckdb,
)
from vawg_pipeline.publish.safety import primary_breaches
from vawg_pipeline.publish.tables import Publication
from vawg_pipeline.publish.workbook import DEFAULT_CONTACT, write_workbook

MANIFEST = "manifest.json"
RELEASES = "releases"
CSV_FOLDER = "csv"
SHORT_HASH = 10


class UnsafeRelease(RuntimeError):
    """The publication failed its audit or the primary rule: it must not be released."""


@dataclass(frozen=True)
class PublishedPaths:
    """Where the live (latest) files are, given the published DuckDB file's path."""

    duckdb: Path

    @property
    def folder(self) -> Path:
        return self.duckdb.parent

    @property
    def workbook(self) -> Path:
        return self.folder / f"{self.duckdb.stem}.xlsx"

    @property
    def chart(self) -> Path:
        return self.folder / f"{self.duckdb.stem}_chart.png"

    @property
    def csv_folder(self) -> Path:
        return self.folder / CSV_FOLDER

    @property
    def releases(self) -> Path:
        return self.folder / RELEASES

    def in_release(self, release_dir: Path) -> PublishedPaths:
        return PublishedPaths(release_dir / self.duckdb.name)


@dataclass
class ReleaseResult:
    release_id: str
    new_release: bool
    release_dir: Path
    paths: PublishedPaths
    content_hash: str
    manifest: dict[str, Any]
    replaced: list[str] = field(default_factory=list)  # live files (re)installed
    # The latest release was decided after this publication was: this one is older
    # numbers (a run overtaken by a concurrent one), and was not released.
    overtaken: bool = False


# --- versions and hashes ------------------------------------------------------------


def code_version() -> dict[str, Any]:
    """Package version and, when run from a git checkout, its commit."""
    try:
        version = metadata.version("vawg-pipeline")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = dirty = None
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=here, capture_output=True, text=True, timeout=5,
                                check=True).stdout
        dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass  # not a git checkout (an installed wheel): the version must do
    return {"package": version, "git_commit": commit, "git_dirty": dirty}


def version_label(version: dict[str, Any]) -> str:
    label = str(version["package"])
    if version.get("git_commit"):
        label += f"+g{version['git_commit'][:12]}"
        if version.get("git_dirty"):
            label += ".dirty"
    return label


def make_release_id(created_at: datetime, content_hash: str) -> str:
    return f"{created_at.strftime('%Y%m%dT%H%M%SZ')}-{content_hash[:SHORT_HASH]}"


# --- reading earlier releases -------------------------------------------------------


def list_releases(paths: PublishedPaths) -> list[dict[str, Any]]:
    """Manifests of every complete release, oldest first."""
    if not paths.releases.is_dir():
        return []
    manifests = []
    for folder in paths.releases.iterdir():
        manifest = folder / MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue  # a release being built, or abandoned half-way
        try:
            manifests.append(json.loads(manifest.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(manifests, key=lambda m: (m.get("created_at", ""), m.get("release_id", "")))


def _utc(moment: datetime) -> datetime:
    """Naive UTC, as the manifests write times."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _decided(manifest: dict[str, Any]) -> datetime | None:
    text = manifest.get("decided_at")
    return datetime.fromisoformat(text.rstrip("Z")) if text else None


def latest_release(paths: PublishedPaths) -> dict[str, Any] | None:
    releases = list_releases(paths)
    return releases[-1] if releases else None


# --- writing ------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _release_files(release_paths: PublishedPaths) -> dict[str, Path]:
    """Files of a release by their path relative to the release folder."""
    folder = release_paths.folder
    files = {p.relative_to(folder).as_posix(): p
             for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}
    return dict(sorted(files.items()))


def _live_target(paths: PublishedPaths, relative: str) -> Path:
    return paths.folder / relative


def _install_live(paths: PublishedPaths, release_dir: Path,
                  manifest: dict[str, Any], only_if_different: bool) -> list[str]:
    """Make the live files those of ``release_dir``; returns the files replaced."""
    files: dict[str, str] = manifest["files"]
    # The DuckDB file last: its arrival marks the release as installed.
    order = sorted(files, key=lambda rel: rel == paths.duckdb.name)
    replaced = []
    for relative in order:
        target = _live_target(paths, relative)
        if only_if_different and target.is_file() and file_sha256(target) == files[relative]:
            continue
        # published files are read-only for everyone
        install_atomically(release_dir / relative, target, 0o444)
        replaced.append(relative)
    # CSVs of tables no longer published go, so the folder matches the release.
    wanted = {Path(rel).name for rel in files if rel.startswith(f"{CSV_FOLDER}/")}
    if paths.csv_folder.is_dir():
        for stale in paths.csv_folder.glob("*.csv"):
            if stale.name not in wanted:
                stale.unlink()
                replaced.append(f"{CSV_FOLDER}/{stale.name} (removed)")
    return replaced


def check_safe(pub: Publication) -> None:
    """Refuse a publication that failed its audit or shows a count of 1 to 4."""
    if not pub.audit_passed:
        raise UnsafeRelease("the disclosure audit did not pass: nothing is published")
    breaches = primary_breaches(pub.tables, pub.rules.threshold)
    if breaches:
        shown = "; ".join(f"{t} {cell}" for t, cell, _ in breaches[:5])
        raise UnsafeRelease(f"{len(breaches)} published value(s) between 1 and "
                            f"{pub.rules.threshold - 1}: {shown}")


def build_release(pub: Publication, release_dir: Path, paths: PublishedPaths,
                  info: ReleaseInfo, manifest: dict[str, Any],
                  contact: str = DEFAULT_CONTACT) -> dict[str, Any]:
    """Write every file of a release into ``release_dir`` and its manifest last."""
    inside = paths.in_release(release_dir)
    write_published_duckdb(inside.duckdb, pub, info)
    write_csvs(inside.duckdb, inside.csv_folder, published_table_names(pub))
    write_workbook(inside.workbook, pub, info.release_id, contact=contact)
    draw_chart(inside.chart, pub)
    files = {rel: file_sha256(p) for rel, p in _release_files(inside).items()}
    for path in _release_files(inside).values():
        path.chmod(0o444)
    manifest = {**manifest, "files": files}
    (release_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                        encoding="utf-8")
    (release_dir / MANIFEST).chmod(0o444)
    return manifest


def publish(pub: Publication, published_path: Path | str,
            now: datetime | None = None, contact: str = DEFAULT_CONTACT,
            decided_at: datetime | None = None) -> ReleaseResult:
    """Release ``pub`` (unless its numbers are those of the latest release, or the
    latest release was decided after it was) and make it the live published files.

    decided_at: when ``pub``'s tables were counted and protected (their stage). Two
    runs at once may release in the other order than they counted: the one that
    counted first must not replace the other's newer numbers.
    """
    check_safe(pub)
    paths = PublishedPaths(Path(published_path))
    paths.releases.mkdir(parents=True, exist_ok=True)
    content_hash = pub.content_hash()

    latest = latest_release(paths)
    overtaken = (latest is not None and decided_at is not None
                 and _decided(latest) is not None and _decided(latest) > _utc(decided_at))
    if latest is not None and (overtaken or latest.get("content_hash") == content_hash):
        release_dir = paths.releases / latest["release_id"]
        restored = _install_live(paths, release_dir, latest, only_if_different=True)
        return ReleaseResult(release_id=latest["release_id"], new_release=False,
                             release_dir=release_dir, paths=paths,
                             content_hash=content_hash, manifest=latest, replaced=restored,
                             overtaken=overtaken)

    created_at = _utc(now or datetime.now(UTC))
    release_id = make_release_id(created_at, content_hash)
    version = code_version()
    info = ReleaseInfo(release_id=release_id, created_at=created_at,
                       content_hash=content_hash, code_version=version_label(version))
    manifest: dict[str, Any] = {
        "release_id": release_id,
        "created_at": created_at.isoformat(timespec="microseconds") + "Z",
        "content_hash": content_hash,
        "reporting_period": {"start": pub.period.start.isoformat(),
                             "end": pub.period.end.isoformat()},
        "inputs": pub.inputs(),
        "forces_missing": pub.missing_forces["force_code"].tolist(),
        "code_version": version,
        "rules": pub.rules.as_dict(),
        "audit": {"passed": pub.audit_passed, "summary": pub.audit_summary},
        "tables": [s.table_id for s in pub.specs],
    }
    if decided_at is not None:
        manifest["decided_at"] = _utc(decided_at).isoformat(timespec="microseconds") + "Z"
    release_dir = paths.releases / release_id
    building = Path(tempfile.mkdtemp(prefix=f".building-{release_id}-", dir=paths.releases))
    try:
        manifest = build_release(pub, building, paths, info, manifest, contact=contact)
        building.chmod(0o755)  # mkdtemp makes it owner-only; a release is for readers
        os.rename(building, release_dir)  # the release appears whole, or not at all
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _fsync_dir(paths.releases)
    replaced = _install_live(paths, release_dir, manifest, only_if_different=False)
    return ReleaseResult(release_id=release_id, new_release=True, release_dir=release_dir,
                         paths=paths, content_hash=content_hash, manifest=manifest,
                         replaced=replaced)
