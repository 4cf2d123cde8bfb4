"""`frontline` loads a subcommand's module only when the command runs: the map of commands to
modules must name every command, and each command must be found through it alone."""

from __future__ import annotations

import subprocess
import sys

from streams.cli import COMMAND_MODULES, load_all, main


def test_every_command_is_in_the_map_with_its_module() -> None:
    load_all()
    defined = {name: command.callback.__module__ for name, command in main.commands.items()}
    assert set(defined) == set(COMMAND_MODULES)
    for name, module in defined.items():
        assert module == f"streams.cli.{COMMAND_MODULES[name]}", name


def test_a_command_imports_only_its_own_module() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from streams.cli import main; "
        "r = CliRunner().invoke(main, ['validate', '--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in sys.modules if m.startswith('streams.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    commands = {f"streams.cli.{m}" for m in COMMAND_MODULES.values()}
    loaded = set(eval(out.stdout)) & commands
    assert loaded == {"streams.cli.contract"}
