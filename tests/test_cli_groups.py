"""The ``synthgen`` command is assembled from each package's ``register(subparsers)``: a new
command group is a module of ``app/cli/commands``, and modules may share a group."""

from __future__ import annotations

import argparse

import pytest

from app.cli import build_parser
from synthgen.cli import Parser, command_group, new_parser


def commands(parser: argparse.ArgumentParser) -> set[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_every_package_contributes_its_groups():
    assert commands(build_parser()) == {"schema", "fit", "sample", "evaluate", "releases", "token", "user", "keys",
                                        "audit", "worker", "site", "federate", "admin", "budget"}


def test_a_module_added_to_app_cli_commands_is_found(monkeypatch, tmp_path):
    import app.cli.commands as pkg

    (tmp_path / "plugin.py").write_text(
        "from synthgen.cli import command_group\n"
        "def register(subparsers):\n"
        "    group = command_group(subparsers, 'plugin', 'a new group')\n"
        "    group.add_parser('serve').set_defaults(handler=lambda args: 7)\n"
        "    command_group(subparsers, 'schema', 'ignored: the group exists').add_parser('annotate')"
        ".set_defaults(handler=lambda args: 8)\n", encoding="utf-8")
    monkeypatch.setattr(pkg, "__path__", [*pkg.__path__, str(tmp_path)])
    parser = build_parser()
    assert "plugin" in commands(parser)
    assert parser.parse_args(["plugin", "serve"]).handler(None) == 7
    assert parser.parse_args(["schema", "annotate"]).handler(None) == 8
    assert parser.parse_args(["schema", "check", "s.json"]).schema == "s.json"  # the library's still there


def test_shared_groups_report_usage_errors_in_one_line(capsys):
    parser, sub = new_parser("test")
    command_group(sub, "schema", "schemas").add_parser("draft")
    assert isinstance(sub.choices["schema"], Parser)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["schema", "nope"])
    assert exit_info.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
