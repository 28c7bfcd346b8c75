"""``synthgen admin init`` and ``synthgen audit verify`` without signing in, nor writing."""

from __future__ import annotations

from sqlalchemy import func, select

from api_helpers import PASSWORD, make_env, open_platform
from app.core.store import AuditRow, session_factory
from test_api_cli import one_line_error, synthgen


def _audit_len(env) -> int:
    p = open_platform(env)
    try:
        with session_factory(p.engine)() as s:
            return s.execute(select(func.count()).select_from(AuditRow)).scalar_one()
    finally:
        p.close()


def test_admin_init_creates_the_first_administrator_once(tmp_path):
    env = make_env(tmp_path)
    made = synthgen("admin", "init", "--username", "root", env={**env, "SYNTHGEN_NEW_PASSWORD": PASSWORD})
    assert made.returncode == 0, made.stderr
    assert "created administrator root" in made.stderr and made.stdout == ""
    p = open_platform(env)
    try:
        assert p.login("root", PASSWORD).actor.role == "admin"
    finally:
        p.close()
    again = synthgen("admin", "init", "--username", "other", env={**env, "SYNTHGEN_NEW_PASSWORD": PASSWORD})
    assert again.returncode == 2 and "already has accounts" in one_line_error(again)


def test_admin_init_generates_a_password_shown_once(tmp_path):
    env = make_env(tmp_path)
    made = synthgen("admin", "init", env=env)
    assert made.returncode == 0, made.stderr
    password = made.stdout.split("generated password (shown once): ", 1)[1].strip()
    p = open_platform(env)
    try:
        assert p.login("admin", password).actor.role == "admin"
    finally:
        p.close()


def test_audit_verify_signs_in_nobody_and_writes_nothing(tmp_path):
    env = make_env(tmp_path)
    p = open_platform(env)
    try:
        p.create_first_admin("admin", PASSWORD)
    finally:
        p.close()
    before = _audit_len(env)
    ok = synthgen("audit", "verify", env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("audit log ok"), ok.stderr
    assert _audit_len(env) == before


def test_audit_verify_with_a_foreign_key_directory_fails_without_writing(tmp_path):
    env = make_env(tmp_path / "a")
    p = open_platform(env)
    try:
        p.create_first_admin("admin", PASSWORD)
    finally:
        p.close()
    before = _audit_len(env)
    foreign = make_env(tmp_path / "b")
    open_platform(foreign).close()  # another installation's keys
    run = synthgen("audit", "verify", env={**env, "SYNTHGEN_KEY_DIR": foreign["SYNTHGEN_KEY_DIR"]})
    assert run.returncode != 0
    missing = synthgen("audit", "verify", env={**env, "SYNTHGEN_KEY_DIR": str(tmp_path / "nowhere")})
    assert missing.returncode != 0 and not (tmp_path / "nowhere").exists()  # no key generated there
    assert _audit_len(env) == before
