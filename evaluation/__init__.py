"""Evaluation of synthetic tables: utility, privacy risk, policy verdicts and release cards."""

from evaluation.core import evaluate
from evaluation.errors import EvaluationError
from evaluation.policy import Policy, default_policy, load_policy
from evaluation.report import EvaluationReport, Metric

__all__ = ["evaluate", "EvaluationReport", "Metric", "Policy", "load_policy", "default_policy", "EvaluationError"]
