"""Performance smoke: the minimum published set over 44 forces, at national scale.

Not a timed assertion (machines differ): it prints how long protect() and audit()
take (run pytest with -s to see it) and checks that the result is safe and stable.
"""

from __future__ import annotations

import time

import pandas as pd

from vawg_pipeline.disclosure.audit import audit
from vawg_pipeline.disclosure.specs import DisclosureRules
from vawg_pipeline.disclosure.suppression import apply_plan, plan_suppression
from vawg_pipeline_tests.disclosure.synthetic import minimum_set


def test_minimum_set_over_44_forces(record_property) -> None:
    rules = DisclosureRules()
    tables, specs = minimum_set(n_rows=1500, n_forces=44, seed=0)

    started = time.perf_counter()
    plan = plan_suppression(tables, specs, rules)
    protected = apply_plan(tables, plan)
    protect_seconds = time.perf_counter() - started

    started = time.perf_counter()
    report = audit(protected, specs, rules)
    audit_seconds = time.perf_counter() - started

    summary = report.summary()
    line = (
        f"44 forces, {sum(len(t) for t in tables.values())} table rows, "
        f"{plan.linked.cells.n} distinct cells: {int(plan.primary.sum())} primary, "
        f"{int(plan.line.sum())} primary-line, {int(plan.secondary.sum())} secondary; "
        f"protect {protect_seconds:.2f} s ({plan.stats.lps_solved} LPs, "
        f"{plan.stats.patterns_solved} patterns, {plan.stats.redundant_published} "
        f"secondaries published again), audit {audit_seconds:.2f} s "
        f"({summary['lps_solved']} LPs, {summary['intervals_checked']} intervals)"
    )
    print("\n" + line)
    record_property("timings", line)
    assert report.passed, report.violations[:5]
    assert summary["attackers"] == 45
    assert summary["published_small"] == 0

    again = apply_plan(tables, plan_suppression(dict(reversed(tables.items())), specs, rules))
    for table_id, table in protected.items():
        pd.testing.assert_frame_equal(table, again[table_id])
