"""The owner's edit of the Bank Marketing draft (see datasets/README.md): every category list is
the one UCI's bank-names.txt documents, and every numeric column gets round public bounds and
cuts chosen without looking at the data's quantiles. Nothing read off the data is kept, so the
review needs no --confirm. The reviewed schema was made with

    synthgen schema draft datasets/bank_marketing.csv -o draft.json --name bank_marketing
    python datasets/bank_marketing_review.py draft.json edited.json
    synthgen schema review edited.json --draft draft.json \
        --reviewer "synthgen maintainers (public documentation of the data set)" \
        -o datasets/bank_marketing.schema.json
"""
import json
import sys

#: bank-names.txt, "Attribute information" (the order is the documentation's)
CATEGORIES = {
    "job": ["admin.", "unknown", "unemployed", "management", "housemaid", "entrepreneur", "student",
            "blue-collar", "self-employed", "retired", "technician", "services"],
    "marital": ["married", "divorced", "single"],  # "divorced" means divorced or widowed
    "education": ["unknown", "secondary", "primary", "tertiary"],
    "default": ["yes", "no"],
    "housing": ["yes", "no"],
    "loan": ["yes", "no"],
    "contact": ["unknown", "telephone", "cellular"],
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    "poutcome": ["unknown", "other", "failure", "success"],
    "y": ["yes", "no"],
}
#: (lower, upper, cuts, description): bounds a bank would publish for these fields, round cuts
NUMERIC = {
    "age": (18, 100, [25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 80], "Age in years (adult clients)."),
    "balance": (-10000, 150000, [-1000, 0, 100, 250, 500, 1000, 2000, 5000, 10000, 25000],
                "Average yearly balance in euros."),
    "day": (1, 31, [5, 10, 15, 20, 25], "Last contact day of the month."),
    "duration": (0, 5000, [60, 120, 180, 240, 300, 450, 600, 900, 1200, 1800],
                 "Last contact duration in seconds (known only after the call: it leaks the outcome)."),
    "campaign": (1, 70, [2, 3, 4, 5, 7, 10, 20], "Contacts during this campaign, this one included."),
    "pdays": (-1, 900, [0, 90, 180, 270, 365, 540], "Days since the last contact of a previous campaign; -1: never contacted."),
    "previous": (0, 300, [1, 2, 3, 5, 10, 20], "Contacts before this campaign."),
}
QUASI_IDENTIFIERS = {"age", "job", "marital", "education"}
SENSITIVE = {"balance", "default", "loan", "y"}

d = json.load(open(sys.argv[1]))
cols = []
for c in d["columns"]:
    n = c["name"]
    if n in CATEGORIES:
        c = {"name": n, "kind": "categorical", "role": "attribute", "nullable": False, "categories": CATEGORIES[n]}
    elif n in NUMERIC:
        lo, hi, cuts, text = NUMERIC[n]
        c = {"name": n, "kind": "numeric", "role": "attribute", "nullable": False, "lower": lo, "upper": hi,
             "cuts": cuts, "integer": True, "description": text}
    else:
        raise SystemExit(f"unexpected column {n!r}")
    if n in QUASI_IDENTIFIERS:
        c["role"] = "quasi_identifier"
    if n in SENSITIVE:
        c["role"] = "sensitive"
    cols.append(c)
d["columns"] = cols
d["derived_from_private_data"] = False
d["notes"] = (
    "Reviewed schema for UCI Bank Marketing (bank-full), made with 'synthgen schema draft' then "
    "'synthgen schema review'. Categories are the lists in UCI's bank-names.txt; numeric bounds and "
    "cuts are round public values chosen without looking at quantiles. One row is one client contact.")
json.dump(d, open(sys.argv[2], "w"), indent=2)
