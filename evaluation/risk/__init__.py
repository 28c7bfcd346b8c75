"""Privacy-risk measurements of a synthetic table against its training and control tables.

* :mod:`~evaluation.risk.attacks`: anonymeter's singling-out, linkability and inference attacks;
* :mod:`~evaluation.risk.anonymeter_fixes`: every change made to anonymeter 1.1.0, what each
  fixes and why the measurement stays anonymeter's (read this before trusting a number);
* :mod:`~evaluation.risk.distance`: distance to closest record, NNDR and exact copies;
* :mod:`~evaluation.risk.results`: the typed results the attacks return.
"""

from evaluation.risk.anonymeter_fixes import classify_messages, controlled_anonymeter
from evaluation.risk.attacks import Secret, attack_frame, inference, linkability, linkability_columns, singling_out
from evaluation.risk.distance import DcrResult, ExactCopies, dcr, exact_copies, row_keys
from evaluation.risk.results import RiskResult

__all__ = [
    "DcrResult", "ExactCopies", "RiskResult", "Secret", "attack_frame", "classify_messages", "controlled_anonymeter",
    "dcr", "exact_copies", "inference", "linkability", "linkability_columns", "row_keys", "singling_out",
]
