"""`frontline`: one command for every operation. Subcommands live in modules of this package.

Operational errors end a command with one line and a documented exit code (streams.cli.errors);
FRONTLINE_DEBUG=1 or `frontline --debug` shows their tracebacks too.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from streams.settings import ConfigError, Settings

# Which module of this package defines each subcommand: a command imports only its own module
# (and what that imports), not every command's libraries (`frontline export` started in 1.9 s
# when all were imported; tests/unit/test_cli_lazy.py keeps this map complete).
COMMAND_MODULES = {
    "audit": "audit",
    "check": "config",
    "config": "config",
    "dashboard": "dashboard",
    "demo": "demo",
    "emit": "ingest",
    "export": "audit",
    "kafka-user": "ingest",
    "lag": "read",
    "migrate": "pipeline",
    "query": "read",
    "replay": "audit",
    "schema": "contract",
    "serve": "ingest",
    "simulate": "contract",
    "tokens": "ingest",
    "topics": "ingest",
    "trace": "audit",
    "validate": "contract",
    "verify": "read",
    "worker": "pipeline",
}


class FrontlineGroup(click.Group):
    """Loads a subcommand's module when it is asked for; turns operational errors into one clear
    line and an exit code, not a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"streams.cli.{module}")  # registers it on `main`
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        from streams.cli.errors import explain

        try:
            return super().invoke(ctx)
        except Exception as exc:
            if _debug(ctx):
                raise
            try:
                current: Settings | None = Settings.from_env()
            except ConfigError:
                current = None
            explained = explain(exc, current)
            if explained is None:
                raise  # a bug: its traceback is what a developer needs
            code, message = explained
            click.echo(f"frontline: {message}", err=True)
            sys.exit(code)


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get("FRONTLINE_DEBUG", "") in ("1", "true")


@click.group(cls=FrontlineGroup)
@click.version_option(package_name="frontline")
@click.option("--debug", is_flag=True, help="Show tracebacks of operational errors too.")
def main(debug: bool) -> None:
    """Count volunteer work from field-app events (Kafka -> Faust -> ClickHouse).

    Configuration is read from FRONTLINE_* environment variables (see README). Exit codes: 0
    done, 1 a problem found in the data, 2 fix the configuration or setup, 3 a service is down.
    """
    if not (debug or os.environ.get("FRONTLINE_DEBUG", "") in ("1", "true")):
        # The clients log every failed connection attempt (with tracebacks); the command says
        # what failed in one line instead. Long-running commands set their own logging.
        for name in ("clickhouse_driver", "kafka", "aiokafka"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def settings() -> Settings:
    """The settings of this process (from the environment)."""
    return Settings.from_env()


def load_all() -> None:
    """Import every subcommand's module (each registers itself on `main`)."""
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"streams.cli.{module}")
