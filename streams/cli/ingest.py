"""`frontline topics ensure|describe` and `frontline emit`: getting events into Kafka."""

from __future__ import annotations

import asyncio
import logging.config
import os
import signal
import sys
from pathlib import Path
from typing import IO

import click
from tqdm import tqdm

from streams.cli import main, settings
from streams.ingest.emit import EmitStats, emit_lines
from streams.ingest.producer import IngestError, Producer
from streams.ingest.tokens import TokenError, TokenStore
from streams.kafka_users import set_scram_user
from streams.logs import logging_config
from streams.topic_admin import TopicState, describe, ensure


@main.group("topics")
def topics() -> None:
    """Frontline's Kafka topics (the event store, dead letters)."""


def _show(state: TopicState) -> str:
    spec = state.spec
    if not state.exists:
        return f"{spec.name}  MISSING"
    configs = " ".join(f"{k}={state.configs.get(k)}" for k in spec.configs)
    line = f"{spec.name}  partitions={state.partitions} replication={state.replication} {configs}"
    if state.created:
        line += "  (created)"
    if state.fixed:
        line += f"  (fixed: {', '.join(state.fixed)})"
    if state.drift:
        line += "  DRIFT: " + "; ".join(state.drift)
    return line


@topics.command("ensure")
@click.option("--fix", is_flag=True, help="Set drifted topic configs (never partitions).")
def topics_ensure(fix: bool) -> None:
    """Create missing topics; report drift from the declared settings (exit 1 on drift)."""
    states = ensure(settings(), fix=fix)
    for state in states:
        click.echo(_show(state))
    if any(s.drift for s in states):
        click.echo(
            "frontline: topics differ from what is declared (above). Configs: rerun with --fix. "
            "Partitions: set FRONTLINE_TOPIC_PARTITIONS to the topic's count; never add "
            "partitions to the event topic (event_ids would move and retries count twice).",
            err=True,
        )
        sys.exit(1)


@topics.command("describe")
def topics_describe() -> None:
    """Show the declared topics as they are in Kafka (exit 1 if missing or drifted)."""
    states = describe(settings())
    for state in states:
        click.echo(_show(state))
    if any(s.drift or not s.exists for s in states):
        sys.exit(1)


class _Progress:
    """emit's progress bar (tqdm) on stderr: bytes of the file read, ETA when its size is
    known, and events/s, accepted and rejected beside it."""

    def __init__(self, source: IO[bytes]) -> None:
        try:
            total: int | None = os.fstat(source.fileno()).st_size or None
        except (OSError, ValueError):  # stdin, a pipe
            total = None
        self.bar = tqdm(
            total=total, unit="B", unit_scale=True, desc="emit", file=sys.stderr, leave=True
        )

    def __call__(self, stats: EmitStats) -> None:
        self.bar.update(stats.bytes_read - self.bar.n)
        self.bar.set_postfix_str(
            f"{stats.rate:,.0f} events/s, accepted {stats.acknowledged:,}, "
            f"rejected {stats.rejected:,}",
            refresh=True,
        )

    def close(self) -> None:
        self.bar.close()


@main.command("emit")
@click.argument("source", type=click.File("rb"))
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where rejected lines go with their reasons [default: SOURCE.rejects.jsonl, "
    "or rejects.jsonl for stdin].",
)
@click.option("--allow-rejects", is_flag=True, help="Exit 0 even if lines were rejected.")
@click.option("--quiet", is_flag=True, help="No progress line.")
def emit(source: IO[bytes], rejects_path: Path | None, allow_rejects: bool, quiet: bool) -> None:
    """Send JSON Lines events from SOURCE (a file, or - for stdin) to Kafka.

    Exit 0 when every line was accepted and acknowledged; 1 if lines were rejected (unless
    --allow-rejects); 3 if Kafka did not acknowledge everything (rerun: duplicates are
    harmless).
    """
    s = settings()
    name = getattr(source, "name", "-")
    name = "-" if name in ("<stdin>", "-") else str(name)
    if rejects_path is None:
        rejects_path = Path("rejects.jsonl" if name == "-" else f"{name}.rejects.jsonl")
    try:
        producer = Producer(s, client_id="frontline-emit")
    except IngestError as exc:
        click.echo(f"frontline: {exc}", err=True)
        sys.exit(3)
    progress = None if quiet else _Progress(source)
    with producer, _LazyFile(rejects_path) as rejects:
        stats = emit_lines(
            source,
            producer,
            source_name=name,
            rejects=rejects,  # type: ignore[arg-type]
            progress=progress,
        )
    if progress is not None:
        progress.close()
    click.echo(
        f"{stats.lines:,} lines in {stats.elapsed:.1f} s ({stats.rate:,.0f} events/s): "
        f"{stats.acknowledged:,} accepted, {stats.rejected:,} rejected, "
        f"{stats.failed:,} not acknowledged"
    )
    for event_type, count in sorted(stats.sent_by_type.items()):
        click.echo(f"  {event_type}: {count:,} sent")
    if stats.rejected:
        codes = ", ".join(f"{c} {n}" for c, n in stats.rejected_by_code.most_common())
        click.echo(f"  rejected: {codes} -> {rejects_path} and the dead-letter topic")
    if stats.stopped_at is not None:
        click.echo(
            f"frontline: Kafka stopped taking events at line {stats.stopped_at:,} "
            f"({stats.first_failure}); the lines after it were not sent. Rerun emit with the "
            "same input once Kafka is back: events already stored are counted once.",
            err=True,
        )
        sys.exit(3)
    if stats.failed or stats.acknowledged < stats.sent:
        click.echo(
            f"frontline: Kafka did not acknowledge {stats.sent - stats.acknowledged:,} events "
            f"({stats.first_failure}); rerun emit with the same input.",
            err=True,
        )
        sys.exit(3)
    if stats.rejected and not allow_rejects:
        sys.exit(1)


class _LazyFile:
    """A text file created on first write, so a clean run leaves no empty rejects file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    def write(self, text: str) -> int:
        if self._file is None:
            self._file = self._path.open("w", encoding="utf-8")
        return self._file.write(text)

    def __enter__(self) -> _LazyFile:
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()


@main.group("tokens")
def tokens() -> None:
    """Device tokens for HTTP ingest (stored as SHA-256 hashes in FRONTLINE_TOKEN_FILE)."""


@tokens.command("create")
@click.option("--device", "device_id", required=True, help="The device's id (e.g. its serial).")
@click.option("--org", "org_id", required=True, help="The only org this device may send for.")
def tokens_create(device_id: str, org_id: str) -> None:
    """Issue a token; it is printed once and only its hash is kept."""
    try:
        token = TokenStore(settings().token_path).create(device_id, org_id)
    except TokenError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(token)


@tokens.command("revoke")
@click.option("--device", "device_id", required=True)
def tokens_revoke(device_id: str) -> None:
    """Revoke every active token of a device (a running server notices within a second)."""
    count = TokenStore(settings().token_path).revoke(device_id)
    if not count:
        click.echo(f"frontline: no active token for device {device_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked {count} token(s) of {device_id}")


@tokens.command("list")
def tokens_list() -> None:
    """Devices, orgs and token state (never the tokens)."""
    for d in TokenStore(settings().token_path).devices():
        state = f"revoked {d.revoked_at}" if d.revoked_at else "active"
        click.echo(
            f"{d.device_id}  org={d.org_id}  created {d.created_at}  {state}  "
            f"sha256:{d.token_sha256[:12]}"
        )


@main.command("serve")
@click.option("--host", default=None, help="[default: FRONTLINE_HTTP_HOST]")
@click.option("--port", type=int, default=None, help="[default: FRONTLINE_HTTP_PORT]")
def serve(host: str | None, port: int | None) -> None:
    """Serve HTTP ingest: POST /v1/events, GET /healthz, /openapi.json, /metrics."""
    s = settings()
    logging.config.dictConfig(logging_config(s.log_format))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # Here: aiohttp and the web app take 0.3 s that other commands need not pay.
        from streams.ingest.http import serve as serve_ingest

        await serve_ingest(s, host or s.http_host, port if port is not None else s.http_port, stop)

    asyncio.run(run())


@main.group("kafka-user")
def kafka_user() -> None:
    """SCRAM users of Kafka's SASL listener."""


@kafka_user.command("set")
@click.option("--user", "user", required=True, help="The user name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="FRONTLINE_NEW_KAFKA_PASSWORD",
    help="[default: asked; or FRONTLINE_NEW_KAFKA_PASSWORD]",
)
def kafka_user_set(user: str, password: str) -> None:
    """Create or change a SCRAM user (SHA-256 and SHA-512) on the running cluster."""
    set_scram_user(settings(), user, password)
    click.echo(f"SCRAM user {user} set")
