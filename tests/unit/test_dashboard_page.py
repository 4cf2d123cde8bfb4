"""The dashboard page's static parts: every label in both languages, nothing fetched from the
internet, and the vendored chart code exactly as npm ships it (with its licence)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from events.types import CallOutcome
from projections import queries
from streams.dashboard.api import PAGE_QUERIES, STATIC

VENDOR = STATIC / "vendor" / "uplot"


def _labels() -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = json.loads((STATIC / "labels.json").read_text())
    return labels


def _used_labels() -> set[str]:
    html = (STATIC / "index.html").read_text()
    js = (STATIC / "app.js").read_text()
    used = set(re.findall(r'data-label="(\w+)"', html))
    used |= set(re.findall(r'label\("(\w+)"\)', js))
    used |= {f"outcome_{o.value}" for o in CallOutcome}
    # Table headers are labelled by their column names.
    for columns in re.findall(r"\[(\"[\w\",\s.]+\")\]", js):
        used |= set(re.findall(r'"(\w+)"', columns)) - {"donations_fen", "all"}
    return used


def test_every_label_is_in_both_languages() -> None:
    labels = _labels()
    assert set(labels) == {"zh", "en"}
    assert set(labels["zh"]) == set(labels["en"])
    assert all(text.strip() for lang in labels.values() for text in lang.values())
    # The Chinese labels are Chinese, not English copied over.
    same = {k for k in labels["en"] if labels["en"][k] == labels["zh"][k]}
    assert same == set(), same


def test_every_label_the_page_uses_exists() -> None:
    missing = _used_labels() - set(_labels()["en"])
    assert missing == set(), f"labels.json lacks {sorted(missing)}"


def test_the_page_loads_nothing_from_another_host() -> None:
    for path in STATIC.glob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
            assert not re.search(r"fetch\(\s*[\"'`]https?:", text), path.name


def test_the_server_warms_up_what_the_page_asks_first() -> None:
    js = (STATIC / "app.js").read_text()
    load = js[js.index("async function load(") : js.index("function applyLabels()")]
    asked = set(re.findall(r'"(\w+)"', " ".join(re.findall(r"api\(([^,]+),", load))))
    assert asked - {"daily_by_org"} == set(PAGE_QUERIES)  # daily_by_org: one org chosen
    assert set(PAGE_QUERIES) <= set(queries.names())


def test_the_vendored_chart_code_is_npms_with_its_licence() -> None:
    source = (VENDOR / "SOURCE.md").read_text()
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in source, f"{name} differs from the npm package"
    assert "MIT License" in (VENDOR / "LICENSE").read_text()
    assert Path(VENDOR / "LICENSE").stat().st_size > 0
