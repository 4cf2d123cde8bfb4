"""`frontline`: one command for every operation. Subcommands live in modules of this package."""

from __future__ import annotations

import sys

import click

from streams.settings import ConfigError, Settings


class FrontlineGroup(click.Group):
    """Turns configuration errors into one clear line and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"frontline: {exc}", err=True)
            sys.exit(2)


@click.group(cls=FrontlineGroup)
@click.version_option(package_name="frontline")
def main() -> None:
    """Frontline: count volunteer work from field-app events (Kafka -> Faust -> ClickHouse).

    Configuration is read from FRONTLINE_* environment variables (see README).
    """


def settings() -> Settings:
    """The settings of this process (from the environment)."""
    return Settings.from_env()


# Subcommand modules register themselves on `main`.
from streams.cli import config as _config  # noqa: E402,F401
from streams.cli import contract as _contract  # noqa: E402,F401
from streams.cli import demo as _demo  # noqa: E402,F401
from streams.cli import ingest as _ingest  # noqa: E402,F401
from streams.cli import pipeline as _pipeline  # noqa: E402,F401
from streams.cli import read as _read  # noqa: E402,F401
