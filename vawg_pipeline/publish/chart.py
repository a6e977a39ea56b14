"""The headline chart: individuals by VAWG category and case type, as published.

Drawn from the published (suppressed) national table, never from true counts. A
withheld cell has no bar, only the label ``[c]`` where its bar would stand: a bar of any
height, zero included, would misstate it.
"""

from __future__ import annotations

import contextlib
import importlib
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.specs import TOTAL, TableSpec
from vawg_pipeline.publish.tables import WITHHELD, Publication

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HEADLINE_TABLE = "individuals_by_vawg_category"
COLOURS = ["#12436D", "#28A197", "#801650", "#F46A25"]  # GSS accessible palette


def headline_spec(pub: Publication) -> TableSpec:
    """The national table with VAWG category and case type (the configured headline,
    else the first table with both dimensions)."""
    for spec in pub.specs:
        if spec.table_id == HEADLINE_TABLE:
            return spec
    for spec in pub.specs:
        if set(spec.dimensions) == {"vawg_category", "case_type"}:
            return spec
    raise KeyError("no published table has the dimensions vawg_category and case_type")


_CHART_MODULES = ("matplotlib.figure", "matplotlib.lines", "matplotlib.patches",
                  "matplotlib.backends.backend_agg")
_preloading = threading.Lock()
_preloader: threading.Thread | None = None


def preload_chart_library() -> None:
    """Start importing matplotlib on a background thread (once per process).

    Its import costs ~0.5 s, and a run needs it only in its last step: started with the
    run, the import overlaps ingestion instead of adding to the run's length. A chart
    drawn before the import ends waits for it (Python's import lock).
    """
    global _preloader
    with _preloading:
        if _preloader is None:
            # Not a daemon: the interpreter never exits with an import half done.
            _preloader = threading.Thread(target=_import_chart_modules,
                                          name="vawg-chart-preload")
            _preloader.start()


def _import_chart_modules() -> None:
    # A failure here is the chart step's to report, where it needs them.
    with contextlib.suppress(Exception):
        for module in _CHART_MODULES:
            importlib.import_module(module)


def draw_chart(path: Path, pub: Publication) -> Path:
    """Write the headline chart as a PNG at ``path``."""
    # A bare Figure (no pyplot): no global state, nothing to close, safe in threads.
    chart_figure(pub).savefig(path, format="png", metadata={"Software": None})
    return Path(path)


def chart_figure(pub: Publication) -> Figure:
    """Grouped bars: one group per VAWG category, one bar per published case type."""
    # matplotlib costs ~0.4 s to import: paid only when a release draws its chart.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    spec = headline_spec(pub)
    table = pub.tables[spec.table_id]
    cells = table[(table["vawg_category"] != TOTAL) & (table["case_type"] != TOTAL)]
    categories = list(dict.fromkeys(cells["vawg_category"]))
    case_types = list(dict.fromkeys(cells["case_type"]))
    lookup = {(r.vawg_category, r.case_type): r.value
              for r in cells.itertuples(index=False)}
    published = [lookup[(c, t)] for c in categories for t in case_types
                 if not pd.isna(lookup[(c, t)])]
    top = max([int(v) for v in published] + [1])
    marker_height = top * 0.01

    fig = Figure(figsize=(11, 6), dpi=110)
    ax = fig.add_subplot()
    width = 0.8 / max(len(case_types), 1)
    x = np.arange(len(categories))
    for k, case_type in enumerate(case_types):
        offset = (k - (len(case_types) - 1) / 2) * width
        colour = COLOURS[k % len(COLOURS)]
        for i, category in enumerate(categories):
            value = lookup[(category, case_type)]
            position = x[i] + offset
            if pd.isna(value):
                # No bar (its height is unknown): the [c] label in the bar's colour.
                ax.text(position, marker_height, WITHHELD, ha="center", va="bottom",
                        fontsize=9, fontweight="bold", color=colour)
            else:
                ax.bar(position, int(value), width, color=colour)
                ax.text(position, int(value), f"{int(value):,}", ha="center",
                        va="bottom", fontsize=8)
    # One legend entry per case type even if its first category is withheld.
    handles = [Rectangle((0, 0), 1, 1, color=COLOURS[k % len(COLOURS)])
               for k in range(len(case_types))]
    handles.append(Line2D([], [], linestyle="none"))
    ax.legend(handles, [*case_types, f"{WITHHELD} withheld (any count, zero included)"],
              frameon=False)
    ax.set_xlim(-0.6, len(categories) - 0.4)  # withheld cells have no bar to autoscale on
    ax.set_xticks(x, [textwrap.fill(c, 18) for c in categories], fontsize=8)
    ax.set_ylabel("Number of individuals" if spec.unit == "individuals"
                  else "Number of cases")
    ax.set_title(f"{spec.title}, {pub.period.label()}", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    fig.text(0.01, 0.01, f"{WITHHELD}: withheld to protect the people involved. "
             "Source: NPCC national collation of force returns.", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
