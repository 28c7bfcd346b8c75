"""First-start bootstrap: an admin account, and optionally demo users and the Adult dataset.

``bootstrap(platform, load_demo=...)`` is idempotent: it does nothing once accounts exist
(except loading the demo dataset if asked and not there yet).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from app.core.services import Actor, Platform

ADMIN_USERNAME = "admin"
DEMO_USERS = (("alice", "data_owner"), ("oscar", "privacy_officer"), ("mia", "ml_engineer"))
DEMO_DATASET = "adult (demo)"
DEMO_BUDGET_EPSILON = 10.0
# far below 1/n for Adult (1/34,189 ≈ 2.9e-5), as KNOWN-PITFALLS #8 asks
DEMO_DELTA = 1e-9


def _datasets_dir() -> Path:
    """``datasets/`` of the repository (editable install) or next to the installed package."""
    here = Path(__file__).resolve()
    for base in (here.parents[2], here.parents[1], Path.cwd()):
        if (base / "datasets" / "adult.csv").exists():
            return base / "datasets"
    raise FileNotFoundError("datasets/adult.csv was not found next to the synthgen installation")


@dataclass
class BootstrapResult:
    created_admin: bool = False
    admin_password: str | None = None  # shown once when generated
    demo_passwords: dict[str, str] = field(default_factory=dict)  # shown once
    demo_dataset_id: int | None = None
    messages: list[str] = field(default_factory=list)


def bootstrap(platform: Platform, *, load_demo: bool, admin_password: str | None = None) -> BootstrapResult:
    result = BootstrapResult()
    if not platform.has_users():
        password = admin_password or os.environ.get("SYNTHGEN_ADMIN_PASSWORD") or None
        info = platform.create_first_admin(ADMIN_USERNAME, password)
        result.created_admin = True
        result.admin_password = info.generated_password
        result.messages.append(
            f"created the first admin account {ADMIN_USERNAME!r}"
            + (f" with the generated password {info.generated_password} (shown once; change it)"
               if info.generated_password else " with the password from SYNTHGEN_ADMIN_PASSWORD"))
    if not load_demo:
        return result
    admin_pw = result.admin_password or admin_password or os.environ.get("SYNTHGEN_ADMIN_PASSWORD")
    if not admin_pw:
        result.messages.append("demo not loaded: the admin password is needed (set SYNTHGEN_ADMIN_PASSWORD)")
        return result
    admin = platform.login(ADMIN_USERNAME, admin_pw).actor
    existing = {u.username: u for u in platform.list_users(admin)}
    users: dict[str, int] = {}
    for name, role in DEMO_USERS:
        if name in existing:
            users[name] = existing[name].id
            continue
        pw = secrets.token_urlsafe(12)
        users[name] = platform.create_user(admin, name, pw, role).id
        result.demo_passwords[name] = pw
    if any(d.name == DEMO_DATASET for d in platform.list_datasets(admin)):
        return result
    if "alice" not in result.demo_passwords:
        result.messages.append("demo dataset not loaded: the demo owner existed already")
        return result
    owner = platform.login("alice", result.demo_passwords["alice"]).actor
    folder = _datasets_dir()
    ds = platform.upload_dataset(owner, "adult.csv", (folder / "adult.csv").read_bytes(), name=DEMO_DATASET,
                                 classification="internal", budget_epsilon=DEMO_BUDGET_EPSILON, delta=DEMO_DELTA,
                                 schema_json=(folder / "adult.schema.json").read_text(encoding="utf-8"))
    for name in ("oscar", "mia"):
        platform.add_member(admin, ds.id, users[name])
    result.demo_dataset_id = ds.id
    result.messages.append(
        f"loaded the demo dataset {DEMO_DATASET!r} (budget ε = {DEMO_BUDGET_EPSILON} at δ = {DEMO_DELTA}); demo users: "
        + ", ".join(f"{n} ({r})" for n, r in DEMO_USERS))
    return result
