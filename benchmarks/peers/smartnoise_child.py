"""Runs inside the SmartNoise peer virtualenv (benchmarks/peers/requirements.txt): its pins clash
with ours, so it cannot share our environment. Called by ``bench_synthesizers.py --peers``.

    python smartnoise_child.py SYNTH EPSILON DELTA CODES.parquet OUT.parquet [round|sample]

Input: the training split already coded with *our* public schema (every column an integer code:
categories, or the schema's numeric bins). SmartNoise therefore sees exactly the public
discretisation our synthesizers see, and the parent decodes its codes with the same rule, so the
comparison is of the algorithms alone. The last argument picks mbi's generator: ``round`` (what
SmartNoise ships) or ``sample`` (i.i.d. sampling from the model, which our synthesizers use).
Output: sampled codes (as many rows as the input, which is
SmartNoise's default behaviour) and a JSON of timings next to it.
"""

import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd
from snsynth import Synthesizer


class _Sampling:
    """mbi's model with i.i.d. sampling as its generator (the model itself is a frozen attrs class)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def synthetic_data(self, rows=None):
        return self._inner.synthetic_data(rows=rows, method="sample")


def main() -> None:
    synth, epsilon, delta, codes_path, out_path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
    generator = sys.argv[6] if len(sys.argv) > 6 else "round"
    codes = pd.read_parquet(codes_path)
    started = time.perf_counter()
    model = Synthesizer.create(synth, epsilon=epsilon, delta=delta)
    model.fit(codes, categorical_columns=list(codes.columns), preprocessor_eps=0.0)
    fitted = time.perf_counter()
    fit_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if generator == "sample":
        model.synthesizer = _Sampling(model.synthesizer)
    sample = model.sample(len(codes))
    done = time.perf_counter()
    sample.astype("int64").to_parquet(out_path)
    out_path.with_suffix(".json").write_text(json.dumps({
        "fit_s": fitted - started, "sample_s": done - fitted, "fit_peak_mb": fit_peak_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": len(sample),
    }))


if __name__ == "__main__":
    main()
