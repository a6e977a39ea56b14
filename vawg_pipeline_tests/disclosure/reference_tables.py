"""The reference tools' own test tables, as numbers only (no code is copied).

Sources (public repositories, read with the search tool's fetch):

- sdcTable (sdcTools/sdcTable @ 6393dfb), ``tests/testthat/test-simpleheuristic.R``:
  a 4 x 4 table with nine manually flagged cells; every row and column has at least
  two suppressions, yet cell (w, b) = 47 can be computed exactly from the margins.
  Expected: SIMPLEHEURISTIC adds 1 secondary suppression; attack on (w, b) then gives
  [0, 78].
- sdcTable, ``tests/testthat/test-protectTable.r`` with ``data-raw/microdata1.R``:
  region (A-D) x gender counts of the 100-row microdata1 set, cell (A, female) flagged.
  Expected: OPT, HITAS, HYPERCUBE and SIMPLEHEURISTIC withhold cells 5, 6, 11, 12 in
  sdcTable's order, i.e. (A, male), (A, female), (C, male), (C, female): 3 secondaries.
  Also a one-way table a, b, c, d = 1, 2, 1, 0 with cells <= 1 primary: with
  singleton detection (each respondent of a singleton cell as an attacker)
  SIMPLEHEURISTIC adds 1 secondary, without it 0.
- sdcTable, ``tests/testthat/test-linked-tables.r``: regions A, B, I, J, K, L, M, N
  (counts 2, 2, 8, 8, 3, 3, 3, 7) in two hierarchies, by county (county-1: A B I J,
  county-2: K L M N) and by size (big: L M, small: the rest), cells <= 3 primary.
  Expected: each table alone is safe with no secondary; linked, K is exact
  (county-1 = 20 and small = 30 give K + N = 10, N = 7), and protect_linked_tables
  adds 1 secondary, N, in both tables.
- checkTauArgus (sdcTools/checkTauArgus @ d5dbee1), ``inst/tests/Batch/ex1``:
  region (A-D) x gender frequency table (``tabdata_ex1.tab``), (A, female) = 137
  unsafe, safety rule MAN(20) (protection 20 % of the cell value, up and down),
  solver OPT. Expected statuses (test_batch_ex1.R): (A, male), (C, male), (C, female)
  are secondaries: 3.
"""

from __future__ import annotations

SIMPLEHEURISTIC_ROWS = ["w", "x", "y", "z"]
SIMPLEHEURISTIC_COLS = ["a", "b", "c", "d"]
SIMPLEHEURISTIC_COUNTS = [
    [30, 47, 64, 89],
    [90, 124, 5, 31],
    [92, 100, 59, 85],
    [800, 991, 651, 685],
]
SIMPLEHEURISTIC_FLAGGED = [
    ("w", "a"), ("w", "b"), ("w", "c"), ("x", "a"), ("x", "c"),
    ("y", "b"), ("y", "d"), ("z", "b"), ("z", "d"),
]  # fmt: skip
SIMPLEHEURISTIC_EXACT = ("w", "b")
SIMPLEHEURISTIC_EXPECTED_SECONDARIES = 1
SIMPLEHEURISTIC_EXPECTED_INTERVAL = (0.0, 78.0)  # attack() on (w, b) after protection

MICRODATA1_REGIONS = ["A", "B", "C", "D"]
MICRODATA1_GENDERS = ["male", "female"]
MICRODATA1_COUNTS = [[18, 2], [14, 19], [12, 10], [11, 14]]  # counted from microdata1
MICRODATA1_FLAGGED = ("A", "female")
MICRODATA1_EXPECTED_WITHHELD = {("A", "male"), ("A", "female"), ("C", "male"), ("C", "female")}

SINGLETON_REGIONS = ["a", "b", "c", "d"]
SINGLETON_COUNTS = [1, 2, 1, 0]
SINGLETON_EXPECTED_SECONDARIES = {False: 0, True: 1}  # by detectSingletons

LINKED_REGIONS = {"A": 2, "B": 2, "I": 8, "J": 8, "K": 3, "L": 3, "M": 3, "N": 7}
LINKED_BY_COUNTY = {"county-1": ["A", "B", "I", "J"], "county-2": ["K", "L", "M", "N"]}
LINKED_BY_SIZE = {"big": ["L", "M"], "small": ["A", "B", "I", "J", "K", "N"]}
LINKED_MAX_PRIMARY = 3
LINKED_EXACT = "K"
LINKED_EXPECTED_SECONDARY = "N"

TAU_ARGUS_EX1 = {  # region, gender -> freq; (A, female) has status U
    ("A", "male"): 895, ("A", "female"): 137,
    ("B", "male"): 753, ("B", "female"): 973,
    ("C", "male"): 569, ("C", "female"): 486,
    ("D", "male"): 540, ("D", "female"): 793,
}  # fmt: skip
TAU_ARGUS_EX1_TOTAL = 5146
TAU_ARGUS_EX1_UNSAFE = ("A", "female")
TAU_ARGUS_EX1_MANUAL_PERCENT = 20.0
TAU_ARGUS_EX1_EXPECTED_SECONDARIES = {("A", "male"), ("C", "male"), ("C", "female")}
