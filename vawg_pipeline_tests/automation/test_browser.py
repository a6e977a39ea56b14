"""End to end in a real browser: materialize one force's partition from the Dagster UI.

Debian's Chromium, driven by the Playwright Python package (never a downloaded browser).
Without Chromium the test fails with a clear message on CI (``CI`` set) and is skipped
elsewhere.
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from vawg_pipeline_tests.automation.conftest import Webserver

if TYPE_CHECKING:  # the package may be missing: then the test skips or fails clearly
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("VAWG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FORCE = "kent"

RUNS_FOR_PARTITION = """query($value: String!) {
    runsOrError(filter: {tags: [{key: "dagster/partition", value: $value}]}) {
        ... on Runs { results { runId status } } } }"""


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the browser test needs it on CI (.ci/run installs Debian's "
                    "chromium with apt-get; pip install playwright==1.65.2)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _partition_runs(server: Webserver) -> dict[str, str]:
    data = server.graphql(RUNS_FOR_PARTITION, {"value": FORCE})["runsOrError"]
    return {r["runId"]: r["status"] for r in data["results"]}


def test_materialize_one_force_partition_from_the_ui(
    browser: "Browser", webserver: Webserver, tmp_path: Path  # browser first: skip early
) -> None:
    from playwright.sync_api import expect

    before = set(_partition_runs(webserver))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(f"{webserver.url}/assets/force_returns")
    expect(page.get_by_text("A force's current return in the national store.")).to_be_visible()

    # Materialize… -> pick one partition in the launch dialog -> launch.
    page.get_by_role("button", name="Materialize…").click()
    # (The partition list is a popover, also a "dialog": pick the launch dialog by title.)
    dialog = page.get_by_role("dialog").filter(
        has_text="Launch runs to materialize force_returns")
    expect(dialog).to_be_visible()
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_placeholder("Filter partitions").fill(FORCE)
    page.get_by_role("menuitem", name=FORCE).click()  # the only match once filtered
    page.keyboard.press("Escape")  # close the partition list, keep the dialog
    launch = dialog.get_by_role("button", name="Launch 1 run")
    expect(launch).to_be_enabled()
    launch.click()
    expect(dialog).to_be_hidden(timeout=60_000)

    # The run the click started, then its page in the UI until it shows success.
    deadline = time.monotonic() + 60
    new: dict[str, str] = {}
    while time.monotonic() < deadline and not new:
        new = {k: v for k, v in _partition_runs(webserver).items() if k not in before}
        time.sleep(0.5)
    assert len(new) == 1, f"no run was launched for {FORCE}"
    run_id = next(iter(new))
    assert webserver.wait_for_run(run_id, timeout=60) == "SUCCESS"
    page.goto(f"{webserver.url}/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"partition: {FORCE}")).to_be_visible()
    expect(page.get_by_text("Loading run logs…")).to_be_hidden(timeout=30_000)
    expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible(timeout=30_000)
    screenshot = tmp_path / "force_returns_kent_run.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000

    # The asset's partition page agrees.
    page.goto(f"{webserver.url}/assets/force_returns?view=partitions")
    expect(page.get_by_text(FORCE, exact=True).first).to_be_visible()
    page.close()
