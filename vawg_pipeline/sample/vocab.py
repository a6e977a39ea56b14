"""Word lists for the sample generator: fake people, notes, titles and file names.

Nothing here is a heading or an accepted spelling of the return: those come from the
contract (``load_contract()``). These lists only dress the sample up as a force would:
fake names (with accents, so Windows-1252 and UTF-8 CSVs differ), free-text notes (with
curly quotes and dashes for the same reason), extra columns forces add, and spellings
the contract does NOT accept (checked against the contract before use).
"""

from __future__ import annotations

# Fake first names by recorded gender; a few accented ones so encodings matter.
FIRST_NAMES_FEMALE = (
    "Jane", "Sarah", "Emma", "Laura", "Rachel", "Claire", "Hannah", "Zoë", "Siân",
    "Chloé", "Renée", "Amira", "Priya", "Niamh", "Kelly", "Joanne", "Megan", "Aisha",
)
FIRST_NAMES_MALE = (
    "John", "David", "Mark", "Paul", "James", "Daniel", "Gareth", "Seán", "José", "Rhys",
    "Imran", "Tomasz", "Callum", "Liam", "Darren", "Stuart", "Kwame", "Andrés",
)
FIRST_NAMES_NEUTRAL = ("Alex", "Sam", "Jordan", "Charlie", "Robin", "Jamie")
LAST_NAMES = (
    "Doe", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas",
    "Roberts", "Walker", "Wright", "Hughes", "Khan", "Patel", "O’Brien", "Müller",
    "Nowak", "Davies", "Clarke", "Turner", "Hall", "Edwards", "Lewis", "Morgan", "Price",
    "Ahmed", "Begum", "MacLeod", "Ó Súilleabháin", "Kowalski", "Green", "Baker", "Ward",
)

# Name prefixes by rank band / role (canonical contract values).
RANK_TITLES = {
    "constable": ("PC", "PC", "PC", "DC"),
    "sergeant": ("PS", "DS", "Sgt"),
    "inspector": ("Insp", "DI"),
    "chief inspector": ("CI", "DCI"),
    "superintendent and above": ("Supt", "Ch Supt"),
}
ROLE_TITLES = {
    "special constable": ("SC",),
    "pcso": ("PCSO",),
}
CIVIL_TITLES = {"male": ("Mr",), "female": ("Ms", "Mrs", "Miss"), "not recorded": ("Mx", "")}

VICTIM_LABELS = ("Ms A", "Ms B", "Miss C", "Mrs D", "Ms E", "the complainant", "a colleague",
                 "Ms F", "Ms G", "a woman", "Ms H")
PLACES = ("Station Road", "the High Street", "the custody suite", "a leaving do",
          "the parade room", "Market Square", "the victim’s address", "a petrol station",
          "the Christmas party", "a train station")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Notes by case type (canonical), {name} {victim} {place} {when} filled per row.
NOTES_CONDUCT = (
    "Allegation raised by partner; {name} arrested and interviewed under caution.",
    "Colleague reported unwanted comments on shift – {name} moved to another team.",
    "Ex-partner alleges controlling behaviour since {when}; referred to DA unit.",
    "Reported via the integrity line: messages sent to {victim} on social media.",
    "Allegation of sexual touching at {place}; IOPC referral made {when}.",
    "{name} self-reported a call-out to their home address; safeguarding in place.",
    "Intelligence that {name} used police systems to look up {victim}.",
    "Allegation raised by partner; CPS advice sought, £200 bail condition noted.",
    "Student officer reported {name}’s comments about her appearance at {place}.",
)
NOTES_COMPLAINT = (
    "Complainant {victim} alleges excessive force during arrest at {place}.",
    "{victim} says the officer contacted her after attending a report on {when}.",
    "Member of the public complains of sexualised comments during a stop at {place}.",
    "Complaint that {name} failed to act on {victim}’s report of domestic abuse.",
    "{victim} alleges she was searched inappropriately in {place}; BWV reviewed.",
    "Complaint about handcuffing of {victim} at {place}; officer’s account obtained.",
    "Allegation raised by partner of {victim}; officer’s social media messages reviewed.",
)
NOTES_FOLLOW_UP = (
    "Update {when}: statement taken from {victim}.",
    "Update {when}: file passed to CPS.",
    "Update {when} – suspect interview completed.",
    "Update {when}: awaiting IOPC decision.",
)

# Spellings forces really type that the contract does NOT accept (the generator checks
# each against the contract and drops any the contract has come to accept).
UNKNOWN_SPELLINGS = {
    "vawg_category": ("Domestic violence", "Coercive control", "VAWG - misc", "Voyeurism",
                      "DV"),
    "subject_role": ("Police Officer (retired)", "Agency worker", "Cadet leader"),
    "restriction": ("Pending", "Under review", "Bail"),
    "subject_gender": ("Woman", "Man?", "X"),
    "outcome": ("Words of advice", "Pending misconduct hearing", "Lessons learned",
                "Service recovery"),
    "criminal_investigation": ("Pending", "TBC", "Maybe"),
}
UNREADABLE_DATES = ("TBC", "31/02/2022", "N/K", "2022-13-05", "unknown", "30/02/22",
                    "see notes")

# Extra columns forces add (ignored and reported by the reader).
EXTRA_COLUMNS = {
    "Force Division": ("North", "South", "East", "West", "Central", "Specialist Ops",
                       "Contact Management"),
    "Reviewer": ("PSD Reviewer 1", "PSD Reviewer 2", "ACU Reviewer", "DI Review Team"),
    "IOPC Referral": ("Y", "N", "N", "N"),
    "Review Date": ("2022-04-20", "2022-04-21", "2022-04-25", "2022-04-28"),
    "Directorate": ("Local Policing", "Crime", "Operations", "Corporate Services"),
    "Risk Assessment Complete": ("Yes", "No", "Yes"),
    "Vetting Review": ("Done", "Requested", "Not required"),
}

SHEET_NAMES = ("VAWG Return", "Data", "Sheet1", "Return", "Cases", "VAWG data", "NPCC Return")
SPLIT_SHEET_NAMES = (
    ("Complaints", "Conduct"),
    ("Public Complaints", "Conduct Matters"),
    ("CO", "CM"),
    ("Complaint cases", "Conduct cases"),
)
GUIDANCE_SHEET_NAMES = ("Guidance", "Cover", "Read Me", "Notes", "Instructions")
LOOKUP_SHEET_NAMES = ("Lookups", "Lists", "Drop-downs")
TOTAL_LABELS = ("Total", "Totals", "TOTAL")

# {name}: force name, {short}: short name, {code}: force code, {ext}: extension
FILE_NAME_TEMPLATES = (
    "Return v3 FINAL (2).{ext}",
    "{short} VAWG return.{ext}",
    "NPCC VAWG Return - {name} - FINAL.{ext}",
    "{code} vawg data Oct21-Mar22 v{n}.{ext}",
    "VAWG Review Data Return_{short}_{n}.{ext}",
    "Copy of NPCC return template ({short}).{ext}",
    "PSD VAWG extract 2022042{n}.{ext}",
    "{short} - Police perpetrated VAWG - OFFICIAL SENSITIVE.{ext}",
    "vawg_return_{code}.{ext}",
)
