"""The console command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest

from vawg_pipeline.sample.generator import write_sample_returns
from vawg_pipeline_tests.conftest import set_received

CLI = [sys.executable, "-m", "vawg_pipeline.cli"]


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAWG_", "DAGSTER_"))}
    env.update({
        "VAWG_INCOMING": str(root / "incoming"),
        "VAWG_WAREHOUSE": str(root / "warehouse" / "vawg.duckdb"),
        "VAWG_PUBLISHED": str(root / "published" / "vawg_published.duckdb"),
        "VAWG_FEEDBACK": str(root / "feedback"),
        "VAWG_PSEUDONYM_KEY": "cli-test-key",
        "DAGSTER_HOME": str(root / "dagster_home"),
        "VAWG_PUBLISHED_CONTACT": "VAWG statistics team, vawg.stats@example.police.uk",
    })
    return env


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=root, env=_env(root), capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_sample_returns(root / "incoming", forces=["kent", "essex", "dorset"], seed=3)
    broken = root / "incoming" / "surrey" / "Return.xlsx"
    broken.parent.mkdir()
    broken.write_bytes(b"not a workbook at all")
    set_received(broken)
    return root


def test_refresh_summarises_and_exits_0_despite_a_refused_file(landed: Path) -> None:
    done = _run(landed, "refresh")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "forces with an accepted return: 3 of 44" in out
    assert "surrey: Return.xlsx: not a readable .xlsx workbook" in out
    assert "national store:" in out and "published outputs:" in out
    with duckdb.connect(str(landed / "warehouse" / "vawg_snapshot.duckdb"),
                        read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT force_code) FROM cases").fetchone()[0] == 3
    # The workbook's cover names the contact the deployment configured.
    cover = openpyxl.load_workbook(landed / "published" / "vawg_published.xlsx",
                                   read_only=True).worksheets[0]
    cells = [c for row in cover.iter_rows(values_only=True) for c in row if c]
    assert any("vawg.stats@example.police.uk" in str(c) for c in cells)


def test_strict_makes_a_refusal_fail(landed: Path) -> None:
    assert _run(landed, "refresh", "--strict").returncode == 2


def test_withdraw_removes_the_force_and_republishes(landed: Path) -> None:
    done = _run(landed, "withdraw", "dorset")
    assert done.returncode == 0, done.stderr
    assert "Withdrew dorset" in done.stdout
    with duckdb.connect(str(landed / "warehouse" / "vawg_snapshot.duckdb"),
                        read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cases WHERE force_code = 'dorset'"
                           ).fetchone()[0] == 0
        assert con.execute("SELECT status FROM submissions WHERE force_code = 'dorset'"
                           ).fetchall() == [("withdrawn",)]
    assert _run(landed, "withdraw", "atlantis").returncode == 2


def test_sample_writes_every_force(tmp_path: Path) -> None:
    done = _run(tmp_path, "sample", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert len([p for p in (tmp_path / "out").iterdir() if p.is_dir()]) == 44


def test_a_failing_run_exits_non_zero_naming_the_step(tmp_path: Path) -> None:
    root = tmp_path
    (root / "incoming").mkdir()
    # A store made with another key: the run must fail, not mix pseudonyms.
    env_key = _env(root)
    env_key["VAWG_PSEUDONYM_KEY"] = "first-key"
    subprocess.run([*CLI, "refresh"], cwd=root, env=env_key, capture_output=True, timeout=300)
    done = _run(root, "refresh")
    assert done.returncode == 1
    assert "FAILED step force_returns" in done.stderr
    assert "refusing to mix" in done.stderr


def test_the_repository_ships_the_instance_settings_the_cli_writes() -> None:
    """`dagster dev` started before any `vawg-pipeline` run still limits the store's
    pools to one writer and retries runs whose worker died."""
    from vawg_pipeline.cli import INSTANCE_SETTINGS

    shipped = Path(__file__).resolve().parents[1] / "data" / "dagster_home" / "dagster.yaml"
    assert shipped.read_text(encoding="utf-8") == INSTANCE_SETTINGS
    assert "default_limit: 1" in INSTANCE_SETTINGS


def test_the_dagster_home_is_made_owner_only(tmp_path: Path, monkeypatch) -> None:
    """A clone's data/dagster_home/ is 0755 (git sets no modes on folders): the event
    log it will hold is for the pipeline's owner only."""
    from vawg_pipeline.cli import _instance

    home = tmp_path / "dagster_home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    _instance()
    assert home.stat().st_mode & 0o777 == 0o700
