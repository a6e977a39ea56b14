"""The return's contract as Python objects, loaded from ``return_contract.toml``.

Everything that knows a heading, an alias or an accepted spelling asks this module, so a
force's new spelling is one line of TOML. No I/O beyond reading that packaged file.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

CONTRACT_FILE = "return_contract.toml"

FIELD_KINDS = ("text", "category", "date", "flag")

_PUNCTUATION = re.compile(r"[^0-9a-z]+")
# Any space, for Arrow's RE2 (whose \s is ASCII only): Unicode separators (non-breaking,
# thin) and the zero-width characters a copy from a web page or HR system brings.
SPACE_CLASS = r"[\s\p{Z}\x{200B}-\x{200D}\x{2060}\x{FEFF}]"
# The same spaces as characters, for Arrow's ``utf8_trim``, with the control characters
# Arrow's ``utf8_trim_whitespace`` also trims (tabs, line breaks, U+001C-U+001F, U+0085):
# trimming these in one pass says whether a cell holds nothing at all.
SPACE_CHARACTERS = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200E))  # en quad .. zero-width joiner
    + "\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
_PARENTHETICAL = re.compile(r"\(.*?\)|\[.*?\]", re.DOTALL)  # hints may wrap lines
# What a spreadsheet shows in a cell whose formula failed (a VLOOKUP that found nothing,
# a deleted reference). Never a value: "#N/A" is not "N/A", "#NULL!" is not blank.
SPREADSHEET_ERRORS = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
})


def is_spreadsheet_error(text: object) -> bool:
    return isinstance(text, str) and text.strip().upper() in SPREADSHEET_ERRORS


# Words a heading abbreviates as it likes: "Warrant Number", "Warrant No.", "Warrant #"
# and "Warrant Num" are one heading.
_HEADING_WORDS = {"number": "no", "num": "no", "nbr": "no", "nos": "no"}
_NUMBER_SIGN = re.compile(r"#|\bno\.", re.IGNORECASE)
# A format hint after the heading, with or without brackets: "Crim Inv Y/N",
# "Date Recorded\ndd/mm/yyyy".
_TRAILING_HINT = re.compile(
    r"[\s:\-]*(y\s*/\s*n|yes\s*/\s*no|dd[/.\-]mm[/.\-]yy(yy)?)\s*$", re.IGNORECASE)


def normalise_heading(text: object) -> str:
    """Heading key: lower case, no spacing, punctuation or line breaks, one word for
    "number" ("No", "#", "Num").

    "Complaint/\\nConduct " and "complaint conduct" both become "complaintconduct";
    "Warrant Number" and "Warrant No." both "warrantno".
    """
    if text is None:
        return ""
    words = _PUNCTUATION.sub(" ", _NUMBER_SIGN.sub(" no ", _compatible(str(text)).lower()))
    return "".join(_HEADING_WORDS.get(w, w) for w in words.split())


# A bracketed hint about how to fill the column in, not what it means: "(Y/N)",
# "(dd/mm/yyyy)", "(optional)", "(select from list)".
_FORMAT_HINT = re.compile(
    r"[(\[]\s*(y\s*/\s*n|yes\s*/\s*no|[dmy]{1,4}([/.\-][dmy]{1,4}){1,2}|optional|required|"
    r"if (known|applicable)|free text|text|number|date|select[^)\]]*|choose[^)\]]*|"
    r"drop[- ]?down[^)\]]*|see [^)\]]*|e\.?g\.?[^)\]]*)\s*[)\]]",
    re.IGNORECASE | re.DOTALL)


def heading_without_format_hint(text: object) -> str:
    """Heading key with only format hints dropped ("Date Recorded (dd/mm/yyyy)" is
    "daterecorded"; "Status (Officer)" keeps its qualifier)."""
    if text is None:
        return ""
    return normalise_heading(_TRAILING_HINT.sub("", _FORMAT_HINT.sub(" ", str(text))))


def heading_without_hint(text: object) -> str:
    """Heading key with hints dropped: bracketed ones anywhere ("Crim Inv (Y/N)" ->
    "criminv") and a format at the end ("Date Recorded dd/mm/yyyy")."""
    if text is None:
        return ""
    return normalise_heading(_TRAILING_HINT.sub("", _PARENTHETICAL.sub(" ", str(text))))


def _compatible(text: str) -> str:
    """Full-width and other compatibility forms as their plain letters ("Ｆ" is "F")."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


# A cell of nothing but dashes, dots or spaces says nothing (a blank); any other cell
# whose key is empty (a tick, "?", Wingdings' "ü") says something the contract does
# not know.
_SAYS_NOTHING = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff\-\u2010-\u2015\u2212.\u2026_]*$")


# The same for Arrow's RE2, whose \s is ASCII only: Unicode spaces spelt out.
SAYS_NOTHING_RE2 = (r"^[\s\p{Z}\x{0B}\x{1C}-\x{1F}\x{85}\x{200B}-\x{200D}\x{2060}\x{FEFF}"
                    r"\x{2010}-\x{2015}\x{2212}\x{2026}._-]+$")


def says_nothing(text: str) -> bool:
    return _SAYS_NOTHING.match(text) is not None


def _singular(word: str) -> str:
    # Plurals are forgiven ("Complaints", "Restricted duties", "PCSOs", "SCs"); applied to both
    # the accepted spellings and the incoming values, so it only has to be consistent.
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    if len(word) == 3 and word.endswith("s"):  # a two-letter abbreviation's: "PCs", "DSs"
        return word[:-1]
    return word


def normalise_value(text: object) -> str:
    """Value key: case, spacing, punctuation and plurals do not matter."""
    if text is None:
        return ""
    words = _PUNCTUATION.sub(" ", _compatible(str(text)).lower()).split()
    return "".join(_singular(w) for w in words)


@dataclass(frozen=True)
class ContractField:
    """One canonical field of the return."""

    name: str
    kind: str
    required: bool
    description: str
    headings: tuple[str, ...]
    personal: bool = False
    when_finalised: bool = False
    blank: str | None = None
    # canonical value -> accepted spellings (canonical value itself included first)
    values: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    # normalised spelling -> canonical value
    value_lookup: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # A class of spellings no list can hold ("staff grades": Scale 6, SO1, Band C):
    # (regular expression over the normalised spelling, canonical value), tried in order
    # when the lookup has no entry.
    value_patterns: tuple[tuple[re.Pattern[str], str], ...] = field(
        default=(), hash=False, compare=False)
    patterns_note: str = ""  # the patterns in words, for people

    def canonical(self, key: str) -> str | None:
        """The canonical value a normalised spelling means, or None."""
        found = self.value_lookup.get(key)
        if found is None:
            for pattern, canonical in self.value_patterns:
                if pattern.fullmatch(key):
                    return canonical
        return found

    @property
    def canonical_values(self) -> list[str]:
        return list(self.values)


def _value_lookup(name: str, values: dict[str, tuple[str, ...]]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canonical, spellings in values.items():
        for spelling in spellings:
            key = normalise_value(spelling)
            previous = lookup.setdefault(key, canonical)
            if previous != canonical:
                raise ValueError(
                    f"{CONTRACT_FILE}: spelling {spelling!r} of field {name} means both "
                    f"{previous!r} and {canonical!r}"
                )
    return lookup


@dataclass(frozen=True)
class Contract:
    fields: tuple[ContractField, ...]

    def __getitem__(self, name: str) -> ContractField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[ContractField]:
        return [f for f in self.fields if f.required]

    @property
    def stored(self) -> list[ContractField]:
        """Fields that reach the national store (personal text fields never do)."""
        return [f for f in self.fields if not f.personal or f.name == "subject_reference"]

    @property
    def heading_lookup(self) -> dict[str, str]:
        """Normalised heading -> field name (each field's own name is a heading too)."""
        return _heading_lookup(self)


@cache
def _heading_lookup(contract: Contract) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for f in contract.fields:
        for heading in (f.name, *f.headings):
            key = normalise_heading(heading)
            previous = lookup.setdefault(key, f.name)
            if previous != f.name:
                raise ValueError(
                    f"{CONTRACT_FILE}: heading {heading!r} names both {previous} and {f.name}"
                )
    return lookup


def _parse_field(raw: dict) -> ContractField:
    kind = raw["kind"]
    if kind not in FIELD_KINDS:
        raise ValueError(f"{CONTRACT_FILE}: field {raw['name']} has unknown kind {kind!r}")
    values = {
        canonical: (canonical, *spellings)
        for canonical, spellings in raw.get("values", {}).items()
    }
    blank = raw.get("blank")
    if blank is not None and blank not in values:
        raise ValueError(f"{CONTRACT_FILE}: blank of {raw['name']} is not one of its values")
    patterns = []
    for canonical, expressions in raw.get("patterns", {}).items():
        if canonical not in values:
            raise ValueError(f"{CONTRACT_FILE}: pattern of {raw['name']} names an unknown "
                             f"value {canonical!r}")
        patterns += [(re.compile(e), canonical) for e in expressions]
    return ContractField(
        name=raw["name"],
        kind=kind,
        required=bool(raw.get("required", False)),
        description=raw.get("description", ""),
        headings=tuple(raw.get("headings", ())),
        personal=bool(raw.get("personal", False)),
        when_finalised=bool(raw.get("when_finalised", False)),
        blank=blank,
        values=values,
        value_lookup=_value_lookup(raw["name"], values),
        value_patterns=tuple(patterns),
        patterns_note=raw.get("patterns_note", ""),
    )


def _contract_text() -> str:
    return resources.files(__package__).joinpath(CONTRACT_FILE).read_text(encoding="utf-8")


@cache
def contract_fingerprint() -> str:
    """Identifies this contract's text: a new heading or spelling changes it."""
    return hashlib.sha256(_contract_text().encode()).hexdigest()[:12]


@cache
def load_contract() -> Contract:
    """The packaged contract (cached: it is read once per process)."""
    text = _contract_text()
    contract = Contract(tuple(_parse_field(raw) for raw in tomllib.loads(text)["field"]))
    _heading_lookup(contract)
    return contract
