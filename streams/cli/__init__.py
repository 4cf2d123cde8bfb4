"""`frontline`: one command for every operation. Subcommands live in modules of this package.

Operational errors end a command with one line and a documented exit code (streams.cli.errors);
FRONTLINE_DEBUG=1 or `frontline --debug` shows their tracebacks too.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from streams.settings import ConfigError, Settings


class FrontlineGroup(click.Group):
    """Turns operational errors into one clear line and an exit code, not a traceback."""

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


# Subcommand modules register themselves on `main`.
from streams.cli import audit as _audit  # noqa: E402,F401
from streams.cli import config as _config  # noqa: E402,F401
from streams.cli import contract as _contract  # noqa: E402,F401
from streams.cli import demo as _demo  # noqa: E402,F401
from streams.cli import ingest as _ingest  # noqa: E402,F401
from streams.cli import pipeline as _pipeline  # noqa: E402,F401
from streams.cli import read as _read  # noqa: E402,F401
