"""Every Frontline client over Kafka's SASL/SCRAM listener (issue #11, deliverable 6): topics,
emit, the worker, lag, verify and HTTP ingest, all on the local stack's SCRAM port; a wrong
password fails with a clear line, not a traceback."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from streams.ingest.http import create_ingest_app
from streams.ingest.tokens import TokenStore
from streams.kafka_users import set_scram_user
from streams.settings import Settings
from tests.integration.harness import (
    assert_counts_exact,
    count_to_the_end,
    emit_campaign,
    frontline,
)
from tests.integration.ingest_helpers import event
from tests.integration.servers import serving
from tests.integration.test_http_ingest import batch, call

SASL_PORT = int(os.environ.get("FRONTLINE_KAFKA_SASL_PORT", "9094"))
USER = "frontline-sasl-test"


@pytest.fixture
def sasl(isolated: Settings) -> Settings:
    """The test's deployment, as a SCRAM user of the SASL listener (made here: a stack formatted
    before the listener existed has no user yet)."""
    password = uuid.uuid4().hex
    set_scram_user(isolated, USER, password)
    return isolated.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{SASL_PORT}",
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_username": USER,
            "kafka_password": password,
        }
    )


def test_the_whole_pipeline_over_sasl_scram(sasl: Settings, tmp_path: Path) -> None:
    expected = emit_campaign(sasl, tmp_path, seed=3, scale="0.001")
    log = tmp_path / "worker.log"
    count_to_the_end(sasl, log)
    assert_counts_exact(sasl, expected)
    for command in (("lag",), ("verify",)):
        done = frontline(sasl, *command)
        assert done.returncode == 0, done.stdout + done.stderr
    store = TokenStore(tmp_path / "tokens.json")
    with serving(create_ingest_app(sasl, store)) as url:
        status, _, reply = call(f"{url}/v1/events", batch(event()), store.create("d", "org-0042"))
    assert (status, reply["accepted"]) == (202, 1)


def test_a_wrong_password_is_one_clear_line(sasl: Settings, tmp_path: Path) -> None:
    wrong = sasl.model_copy(update={"kafka_password": "not-the-password"})
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(event()) + "\n")
    done = frontline(wrong, "emit", str(source))
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert "FRONTLINE_KAFKA_PASSWORD" in done.stderr  # names what to check
