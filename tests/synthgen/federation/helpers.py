"""A federation on loopback for tests: CA, certificates, a small Adult slice split into three
unequal sites, the owners' approvals, and site processes started through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from synthgen.federation import pki
from synthgen.schema import Schema
from tests.synthgen.helpers import DATASETS, ROOT

SITES = ("site-a", "site-b", "site-c")
COLUMNS = ["age", "workclass", "education", "sex", "hours-per-week", "income"]
#: unequal shares of a 3,000-row slice of Adult
SPLIT = {"site-a": (0, 1600), "site-b": (1600, 2500), "site-c": (2500, 3000)}


def small_adult() -> tuple[pd.DataFrame, Schema]:
    schema = Schema.load(DATASETS / "adult.schema.json")
    schema = replace(schema, columns=tuple(c for c in schema.columns if c.name in COLUMNS))
    frame = pd.read_csv(DATASETS / "adult.csv", nrows=3000)[COLUMNS]
    return frame, schema


@dataclass
class Federation:
    root: Path
    schema_path: Path
    frame: pd.DataFrame

    def credentials(self, name: str) -> pki.Credentials:
        return pki.Credentials(self.root / f"certs/{name}.pem", self.root / f"certs/{name}.key", self.root / "ca/ca.pem", self.root / "ca/crl.pem")

    def state(self, name: str) -> Path:
        return self.root / f"state-{name}"

    def ledger(self, name: str) -> dict:
        return json.loads((self.state(name) / "ledger.json").read_text())

    def audit(self, name: str) -> list[dict]:
        return [json.loads(line) for line in (self.state(name) / "audit.jsonl").read_text().splitlines()]


def cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if check and done.returncode != 0:
        raise AssertionError(f"synthgen {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def build(root: Path) -> Federation:
    frame, schema = small_adult()
    schema_path = root / "schema.json"
    schema.save(schema_path)
    pki.init_ca(root / "ca", "test-federation")
    for name in SITES:
        pki.issue(root / "ca", name, "site", root / "certs")
        frame.iloc[slice(*SPLIT[name])].to_csv(root / f"{name}.csv", index=False)
    pki.issue(root / "ca", "coord", "coordinator", root / "certs")
    fed = Federation(root, schema_path, frame)
    for name in SITES:
        cli("site", "approve", "--state-dir", str(fed.state(name)), "--schema", str(schema_path), "--coordinator", "coord",
            "--peers", ",".join(SITES), "--max-epsilon", "1", "--total-epsilon", "5")
    return fed


class SiteProcess:
    """``synthgen site serve`` in its own process, on its own port (chosen by the OS)."""

    def __init__(self, fed: Federation, name: str):
        self.name = name
        creds = fed.credentials(name)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "site", "serve", "--name", name, "--data", str(fed.root / f"{name}.csv"),
             "--schema", str(fed.schema_path), "--state-dir", str(fed.state(name)), "--port", "0",
             "--cert", str(creds.cert), "--key", str(creds.key), "--ca", str(creds.ca), "--crl", str(creds.crl)],
            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        self.address = self._wait_for_address()

    def _wait_for_address(self) -> str:
        deadline = time.monotonic() + 120
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if "listening on https://" in line:
                return line.split("https://")[1].split()[0]
            if not line and self.process.poll() is not None:
                raise AssertionError(f"site {self.name} exited ({self.process.returncode})")
        raise AssertionError(f"site {self.name} did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stderr:
            self.process.stderr.close()
