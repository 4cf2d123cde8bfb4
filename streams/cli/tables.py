"""Rows printed as an aligned text table (`frontline query`, `audit`, `trace`): its own module so
that a command printing one imports no other command's libraries."""

from __future__ import annotations

from collections.abc import Sequence

import click

from projections.queries import plain


def print_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(plain(v)) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
