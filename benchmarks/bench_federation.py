"""Federated MST over three site processes vs central MST on the pooled table. Prints a table.

    .venv/bin/python benchmarks/bench_federation.py [--epsilon 1] [--repeats 3]

Protocol: the training split of bench_synthesizers.py (Adult, 70/30 with seed 0, 34,189 rows),
δ = 1e-9, all 15 columns of datasets/adult.schema.json. The pooled split is cut into three
unequal sites (50 %, 30 %, 20 % of the rows). Each repeat fits

* central MST: ``synthgen.synthesizers.fit`` on the pooled table, in this process;
* federated MST: three ``synthgen site serve`` processes on loopback, each with its own port and
  certificate from a fresh federation CA, and ``federated_fit`` as the coordinator in this process
  (join, three secure-aggregation rounds over mutual TLS, model fit).

Both sample their DP-estimated number of rows; TVD over all 1-, 2-, 3-way marginals on 16
quantile bins of the pooled split (bench_synthesizers.score). DP noise is never seeded: medians
over the repeats are printed, and the per-repeat figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_synthesizers import DELTA, load_split, score  # noqa: E402

SITES = {"site-a": 0.5, "site-b": 0.3, "site-c": 0.2}


def start_sites(root: Path, schema_path: Path) -> tuple[dict, list]:
    from synthgen.federation import pki

    pki.init_ca(root / "ca", "bench")
    pki.issue(root / "ca", "coord", "coordinator", root / "certs")
    addresses, processes = {}, []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in SITES:
        pki.issue(root / "ca", name, "site", root / "certs")
        state = root / f"state-{name}"
        subprocess.run([sys.executable, "-m", "app.cli", "site", "approve", "--state-dir", str(state), "--schema", str(schema_path),
                        "--coordinator", "coord", "--peers", ",".join(SITES), "--max-epsilon", "10", "--total-epsilon", "100"],
                       check=True, env=env, capture_output=True)
        p = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "site", "serve", "--name", name, "--data", str(root / f"{name}.parquet"),
             "--schema", str(schema_path), "--state-dir", str(state), "--port", "0", "--cert", str(root / f"certs/{name}.pem"),
             "--key", str(root / f"certs/{name}.key"), "--ca", str(root / "ca/ca.pem"), "--crl", str(root / "ca/crl.pem")],
            stderr=subprocess.PIPE, text=True, env=env,
        )
        processes.append(p)
        while True:
            line = p.stderr.readline()
            if "listening on https://" in line:
                addresses[name] = line.split("https://")[1].split()[0]
                break
            if not line:
                raise SystemExit(f"site {name} did not start")
    return addresses, processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from synthgen.budget import PrivacyBudget
    from synthgen.federation.coordinator import SiteAddress, federated_fit
    from synthgen.federation.pki import Credentials
    from synthgen.schema import Schema
    from synthgen.synthesizers import MST, fit

    train, holdout = load_split()
    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    rows: dict[str, list[dict]] = {"central": [], "federated": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        schema_path = root / "schema.json"
        schema.save(schema_path)
        start = 0
        for name, share in SITES.items():
            end = len(train) if name == list(SITES)[-1] else start + int(share * len(train))
            train.iloc[start:end].to_parquet(root / f"{name}.parquet")
            start = end
        addresses, processes = start_sites(root, schema_path)
        creds = Credentials(root / "certs/coord.pem", root / "certs/coord.key", root / "ca/ca.pem", root / "ca/crl.pem")
        try:
            for repeat in range(args.repeats):
                t0 = time.perf_counter()
                central = fit(train, schema, MST(), PrivacyBudget.from_epsilon(args.epsilon, DELTA))
                t1 = time.perf_counter()
                fed = federated_fit([SiteAddress(n, a) for n, a in addresses.items()], schema, creds, epsilon=args.epsilon, delta=DELTA)
                t2 = time.perf_counter()
                sent = sum(8 * v.size for rnd in fed.transcript for v in rnd["site-a"])
                for label, model, seconds in (("central", central, t1 - t0), ("federated", fed.model, t2 - t1)):
                    figures = score(train, holdout, model.sample(rng=np.random.default_rng(repeat)))
                    figures.update(seconds=seconds, rho=model.info["budget"]["rho"])
                    if label == "federated":
                        figures["site_a_bytes"] = sent
                    rows[label].append(figures)
                    print(f"repeat {repeat + 1} {label:9s} fit {seconds:6.1f} s  TVD1 {figures['tvd1']:.4f}  TVD2 {figures['tvd2']:.4f}  "
                          f"TVD3 {figures['tvd3']:.4f}  AUC {figures['auc']:.3f}", flush=True)
        finally:
            for p in processes:
                p.terminate()
                p.wait(timeout=30)

    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[label])

    print(f"\nAdult training split ({len(train):,} rows) in three sites (50/30/20 %), epsilon {args.epsilon:g}, delta {DELTA:g}, "
          f"{args.repeats} repeats, medians")
    print("| fit | fit s | TVD1 | TVD2 | TVD3 | AUC |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label in rows:
        print(f"| {label} MST | {med(label, 'seconds'):.1f} | {med(label, 'tvd1'):.4f} | {med(label, 'tvd2'):.4f} | "
              f"{med(label, 'tvd3'):.4f} | {med(label, 'auc'):.3f} |")
    gaps = [f["tvd3"] - c["tvd3"] for f, c in zip(rows["federated"], rows["central"])]
    print(f"\nTVD3 federated - central: median {statistics.median(gaps):+.4f} (per repeat {', '.join(f'{g:+.4f}' for g in gaps)}); "
          f"target |gap| <= 0.01")
    print(f"time overhead: {med('federated', 'seconds') / med('central', 'seconds'):.2f}x the central fit "
          f"(+{med('federated', 'seconds') - med('central', 'seconds'):.1f} s); "
          f"each site sends {med('federated', 'site_a_bytes') / 1e6:.2f} MB of masked words per fit")


if __name__ == "__main__":
    main()
