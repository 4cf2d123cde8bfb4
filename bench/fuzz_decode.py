"""Coverage-guided fuzzing (atheris, libFuzzer) of what every input byte goes through: the
contract's decoder, the dead-letter record and the digit masking.

    .venv/bin/python bench/fuzz_decode.py -runs=500000          # prints libFuzzer's stats
    .venv/bin/python bench/fuzz_decode.py -max_total_time=600    # ten minutes

Properties, for any bytes: `decode` returns an event or raises `Rejected`, nothing else; a
dead letter of them is at most MAX_RECORD_BYTES and reads back; its kept prefix holds no run of
7 or more digits. A crash prints the input that broke one (libFuzzer writes it to crash-*).
The run starts from the contract's fixtures (a corpus in a temporary folder).
"""

from __future__ import annotations

import contextlib
import re
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    from events import Rejected, decode
    from streams.dead_letters import MAX_RECORD_BYTES, dead_letter, read_dead_letter

from tests.fixtures import all_fixtures  # noqa: E402

# Written independently of events.privacy: seven ASCII digits with any of the masked
# separators between them.
SEVEN_DIGITS = re.compile(rb"\d(?:[\s\-.()/:_+]*\d){6}")
ORIGIN = {"via": "fuzz"}


def one_input(data: bytes) -> None:
    with contextlib.suppress(Rejected):  # any other exception is a finding
        decode(data)
    record = dead_letter(data, code="malformed_json", message="fuzz", origin=ORIGIN)
    assert len(record) <= MAX_RECORD_BYTES, len(record)
    kept = read_dead_letter(record)["original"]
    assert SEVEN_DIGITS.search(kept) is None, kept


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="frontline-fuzz-"))
    for i, fixture in enumerate(all_fixtures()):
        (corpus / f"fixture-{i}").write_bytes(fixture.wire[:4096])
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
