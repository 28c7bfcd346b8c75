"""The owner's edit of the Diabetes 130 draft (see datasets/README.md): public code lists from
the data set's IDs_mapping.csv and documentation, round public bounds and cuts, roles. The draft
already proposes patient_nbr as the person column (at most 2 encounters per patient) and
encounter_id as a dropped identifier; the owner keeps both. The reviewed schema was made with

    synthgen schema draft datasets/diabetes130.parquet -o draft.json --name diabetes130
    python datasets/diabetes130_review.py draft.json edited.json
    synthgen schema review edited.json --draft draft.json \
        --reviewer "synthgen maintainers (public documentation of the data set)" \
        --confirm race --confirm gender --confirm age --confirm weight --confirm admission_type_id \
        --confirm time_in_hospital --confirm payer_code --confirm medical_specialty \
        --confirm num_procedures --confirm number_outpatient --confirm number_emergency \
        --confirm number_inpatient --confirm number_diagnoses --confirm max_glu_serum \
        --confirm A1Cresult --confirm metformin --confirm repaglinide --confirm nateglinide \
        --confirm chlorpropamide --confirm glimepiride --confirm glipizide --confirm glyburide \
        --confirm pioglitazone --confirm rosiglitazone --confirm acarbose --confirm miglitol \
        --confirm insulin --confirm glyburide-metformin --confirm change --confirm diabetesMed \
        --confirm readmitted -o datasets/diabetes130.schema.json

Each --confirm names a column whose data-read value the owner keeps as is (datasets/README.md
says, column by column, where it is documented and which are the owner's own confirmation).
medical_specialty: the draft proposes top-k (k = 30, selected with budget); the owner instead
keeps an explicit list of the 73 specialties the hospitals' system records ('?' = unknown, as a
category). That list was read off the data, so the edit marks it read_from_data and the review
records it as confirmed, not as public documentation.
"""
import csv
import json
import sys
from pathlib import Path

d = json.load(open(sys.argv[1]))
MAP = {}
cur = None
for row in csv.reader(open(Path(__file__).with_name("diabetes130_ids_mapping.csv"))):
    if not row or not row[0]:
        cur = None; continue
    if row[0].endswith("_id"):
        cur = row[0]; MAP[cur] = []; continue
    MAP[cur].append(int(row[0]))
MEDS = ["metformin", "repaglinide", "nateglinide", "chlorpropamide", "glimepiride", "acetohexamide", "glipizide",
        "glyburide", "tolbutamide", "pioglitazone", "rosiglitazone", "acarbose", "miglitol", "troglitazone",
        "tolazamide", "examide", "citoglipton", "insulin", "glyburide-metformin", "glipizide-metformin",
        "glimepiride-pioglitazone", "metformin-rosiglitazone", "metformin-pioglitazone"]
NUM = {"num_lab_procedures": (0, 150, [10, 20, 30, 40, 50, 60, 70, 80, 100]),
       "num_medications": (0, 100, [5, 10, 15, 20, 25, 30, 40, 50]),
       "number_outpatient": (0, 50, [1, 2, 3, 6, 11]),
       "number_emergency": (0, 80, [1, 2, 3, 6, 11]),
       "number_inpatient": (0, 25, [1, 2, 3, 4, 6, 11])}
QI = {"race", "gender", "age", "payer_code", "admission_type_id"}
SENSITIVE = {"diag_1", "A1Cresult", "readmitted"}
#: the owner's list (read off the data, confirmed at review), instead of the draft's top-k
SPECIALTIES = """
? AllergyandImmunology Anesthesiology Anesthesiology-Pediatric Cardiology Cardiology-Pediatric
DCPTEAM Dentistry Dermatology Emergency/Trauma Endocrinology Endocrinology-Metabolism
Family/GeneralPractice Gastroenterology Gynecology Hematology Hematology/Oncology Hospitalist
InfectiousDiseases InternalMedicine Nephrology Neurology Neurophysiology
Obsterics&Gynecology-GynecologicOnco Obstetrics ObstetricsandGynecology Oncology Ophthalmology
Orthopedics Orthopedics-Reconstructive Osteopath Otolaryngology OutreachServices Pathology
Pediatrics Pediatrics-AllergyandImmunology Pediatrics-CriticalCare Pediatrics-EmergencyMedicine
Pediatrics-Endocrinology Pediatrics-Hematology-Oncology Pediatrics-InfectiousDiseases
Pediatrics-Neurology Pediatrics-Pulmonology Perinatology PhysicalMedicineandRehabilitation
PhysicianNotFound Podiatry Proctology Psychiatry Psychiatry-Addictive Psychiatry-Child/Adolescent
Psychology Pulmonology Radiologist Radiology Resident Rheumatology Speech SportsMedicine Surgeon
Surgery-Cardiovascular Surgery-Cardiovascular/Thoracic Surgery-Colon&Rectal Surgery-General
Surgery-Maxillofacial Surgery-Neuro Surgery-Pediatric Surgery-Plastic
Surgery-PlasticwithinHeadandNeck Surgery-Thoracic Surgery-Vascular SurgicalSpecialty Urology
""".split()
cols = []
for c in d["columns"]:
    n = c["name"]
    if n in MAP:
        c = {"name": n, "kind": "categorical", "role": "attribute", "nullable": False, "categories": sorted(MAP[n])}
    elif n in MEDS:
        c = {"name": n, "kind": "categorical", "role": "attribute", "nullable": False, "categories": ["No", "Steady", "Up", "Down"]}
    elif n in NUM:
        lo, hi, cuts = NUM[n]
        c = {"name": n, "kind": "numeric", "role": "attribute", "nullable": False, "lower": lo, "upper": hi, "cuts": cuts, "integer": True}
    elif n == "medical_specialty":
        c = {"name": n, "kind": "categorical", "role": "attribute", "nullable": False, "categories": SPECIALTIES,
             "read_from_data": ["categories"]}
    elif n == "age":
        c["categories"] = [f"[{10 * i}-{10 * i + 10})" for i in range(10)]
    elif n == "weight":
        c["categories"] = ["?"] + [f"[{25 * i}-{25 * i + 25})" for i in range(8)] + [">200"]
    elif n == "time_in_hospital":
        c["categories"] = list(range(1, 15))
    elif n == "num_procedures":
        c["categories"] = list(range(0, 7))
    elif n == "number_diagnoses":
        c["categories"] = list(range(1, 17))
    elif n in ("max_glu_serum",):
        c["categories"] = ["None", "Norm", ">200", ">300"]
    elif n == "A1Cresult":
        c["categories"] = ["None", "Norm", ">7", ">8"]
    elif n == "readmitted":
        c["categories"] = ["NO", ">30", "<30"]
    elif n == "change":
        c["categories"] = ["No", "Ch"]
    elif n == "diabetesMed":
        c["categories"] = ["No", "Yes"]
    if n in QI:
        c["role"] = "quasi_identifier"
    if n in SENSITIVE:
        c["role"] = "sensitive"
    cols.append(c)
d["columns"] = cols
assert d["privacy_unit"] == {"person_column": "patient_nbr", "max_rows": 2}, d["privacy_unit"]
d["derived_from_private_data"] = False
d["notes"] = (
    "Reviewed schema for the UCI Diabetes 130-US hospitals table, made with 'synthgen schema dr"
    "aft' then 'synthgen schema review'. encounter_id dropped; patient_nbr is the person column"
    " (at most 2 encounters per patient are kept before anything is measured). Codes of the thr"
    "ee *_id columns from the data set's IDs_mapping.csv; diag_1..3 grouped by the public ICD-9"
    "-CM chapter list; medication columns take the documented No/Steady/Up/Down; count columns "
    "have round public bounds and cuts; '?' is the file's literal marker for unknown, kept as a"
    " category.")
json.dump(d, open(sys.argv[2], "w"), indent=2)
