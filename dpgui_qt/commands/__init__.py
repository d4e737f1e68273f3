"""The CLI subcommands, one module each: ``add_parser(subparsers, name)`` and ``run(args)``.

``dpgui_qt.cli`` imports a command's module only when that command runs; this package
module holds just the table, so the self-test and the CLI read it without importing any command.
"""
from __future__ import annotations

# command name -> module under dpgui_qt.commands
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "get": "getset",
    "set": "getset",
    "schema-audit": "schema_audit",
    "launch": "launch",
    "hosts": "hosts",
    "remote": "remote",
    "parse-log": "parse_log",
    "monitor": "monitor",
    "outputs": "outputs",
    "prune": "outputs",
    "queue": "queue",
    "dataset-report": "dataset_report",
    "doctor": "doctor",
    "presets": "presets",
    "new": "presets",
}
