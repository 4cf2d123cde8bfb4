"""Short fuzzing runs in every test run (the long ones and their counts: README, "Fuzzing").

- schemathesis generates requests from `/openapi.json` (valid and invalid bodies, headers,
  methods) against HTTP ingest on the real broker: no 5xx, and every response as documented.
- atheris (libFuzzer) feeds coverage-guided bytes to the contract's decoder and the dead-letter
  record (bench/fuzz_decode.py): no other exception than Rejected, bounded records, no 7-digit
  run left in what a dead letter keeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from streams.ingest.http import create_ingest_app
from streams.ingest.tokens import TokenStore
from streams.settings import Settings
from streams.topic_admin import ensure
from tests.integration.servers import serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = os.environ.get("FRONTLINE_FUZZ_EXAMPLES", "15")
RUNS = os.environ.get("FRONTLINE_FUZZ_RUNS", "20000")


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    isolated: Settings, tmp_path: Path
) -> None:
    ensure(isolated)
    # Generated requests come fast: no rate limit or dead-letter budget in the way.
    settings = isolated.model_copy(
        update={"ingest_rate_limit": 100_000.0, "ingest_dead_letter_budget": 10**9}
    )
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("fuzzer", "org-0042")
    report = tmp_path / "run.ndjson"
    with serving(create_ingest_app(settings, store)) as url:
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{url}/openapi.json",
                "-H",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,"
                "response_schema_conformance",
                "--max-examples",
                EXAMPLES,
                "--workers",
                "1",
                # About generating (the id regex filters many drawn strings), not the server.
                "--suppress-health-check",
                "filter_too_much,too_slow",
                "--seed",
                "2022",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "No issues found" in done.stdout
    events = [json.loads(line) for line in report.read_text().splitlines()]
    assert events, "schemathesis reported nothing"


def test_atheris_finds_no_crash_in_decoding_and_dead_letters() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/fuzz_decode.py"), f"-runs={RUNS}", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"Done {RUNS} runs" in done.stderr
