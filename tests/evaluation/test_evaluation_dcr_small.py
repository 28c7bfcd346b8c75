"""dcr_share on a small table: an independent real sample is not failed by sampling noise."""

from evaluation import Metric, default_policy
from evaluation.policy import judge


def test_dcr_share_is_judged_on_its_interval():
    p = default_policy()
    # an independent real sample of 150 rows scored up to 0.59 (Breast Cancer, PUMS-1000):
    # its interval reaches under the limit, so it is not a breach
    assert judge(Metric("dcr_share", 0.57, (0.49, 0.65), group="risk"), p).verdict == "inconclusive"
    assert judge(Metric("dcr_share", 0.51, (0.47, 0.549), group="risk"), p).verdict == "pass"
    # a copy of the training table, or a large table clearly closer to its training rows
    assert judge(Metric("dcr_share", 1.0, (0.99, 1.0), group="risk"), p).verdict == "fail"
    assert judge(Metric("dcr_share", 0.58, (0.57, 0.59), group="risk"), p).verdict == "fail"
