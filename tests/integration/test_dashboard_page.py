"""The dashboard page in headless Chromium (Debian's, from deploy/browser) against the real
stack: the figures shown as text equal the simulator's expected.json, the language switches,
the org filter narrows the tables, and the page fits a phone. Screenshots at desktop and phone
widths go to .state/test-artifacts/dashboard/ (FRONTLINE_TEST_ARTIFACTS to change)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, sync_playwright

from projections.store import StateStore
from streams.dashboard.api import STATIC, iso_ms
from streams.ingest.producer import Producer
from streams.settings import Settings
from tests.integration.dashboard_server import dashboard
from tests.integration.ingest_helpers import event, line
from tests.integration.servers import REPO

# The flags that work here (TRAPS.md): no sandbox as root, no GPU, nothing fetched.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
LABELS = json.loads((STATIC / "labels.json").read_text())
HEADLINE = (
    "orgs",
    "checkins",
    "volunteers",
    "teams",
    "service_hours",
    "calls",
    "calls_reached",
    "sampling_assists",
    "disinfected_m2",
    "donations_fen",
)


def _artifacts() -> Path:
    default = REPO / ".state" / "test-artifacts"
    where = Path(os.environ.get("FRONTLINE_TEST_ARTIFACTS", default)) / "dashboard"
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    found = subprocess.run(
        [str(REPO / "deploy" / "browser")], capture_output=True, text=True, check=False
    )
    assert found.returncode == 0, f"deploy/browser: {found.stderr}"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=found.stdout.strip(), args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _figure(text: str, name: str) -> int | Decimal:
    """A figure as the page shows it (`63,680,000.00`) back to the API's unit."""
    plain = text.replace(",", "").strip()
    assert re.fullmatch(r"\d+(\.\d+)?", plain), f"{name}: {text!r} is not a figure"
    if name == "donations_fen":
        whole, cents = plain.split(".")
        return int(whole) * 100 + int(cents)
    return Decimal(plain) if "." in plain else int(plain)


def _shown(page: Page) -> dict[str, int | Decimal]:
    got = {}
    for name in HEADLINE:
        box = page.locator(f'#headline [data-figure="{name}"]')
        text = box.locator("dd").inner_text() if box.locator("dd").count() else box.inner_text()
        got[name] = _figure(text, name)
    return got


def _column(page: Page, table: str, column: str) -> list[str]:
    return page.locator(f'#{table} tbody td[data-column="{column}"]').all_inner_texts()


def test_the_page_shows_the_campaign_in_both_languages_on_a_desktop_and_a_phone(
    isolated: Settings, live: tuple[dict[str, Any], Path], tmp_path: Path, browser: Browser
) -> None:
    expected, _ = live
    totals = expected["totals"]
    shots = _artifacts()
    errors: list[str] = []
    with dashboard(isolated, tmp_path) as (base, status, _, _):
        assert status == 200
        page = browser.new_page(viewport=DESKTOP, locale="zh-CN")
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        started = time.monotonic()
        page.goto(f"{base}/")
        page.wait_for_selector("body[data-loaded=true]", timeout=30_000)
        print(f"first render {time.monotonic() - started:.3f} s")

        # Chinese first (the browser's language), every figure as text, equal to the oracle.
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.locator("#headline-title").inner_text() == LABELS["zh"]["headline"]
        shown = _shown(page)
        assert shown == {
            name: Decimal(str(totals[name])) if isinstance(totals[name], float) else totals[name]
            for name in HEADLINE
        }
        # Current as of the worker's newest checkpoint, not the clock.
        _, as_of_ms = StateStore(isolated.clickhouse).checkpoint_marks()
        assert page.locator("#as-of").get_attribute("datetime") == iso_ms(as_of_ms)
        days = {r["day"] for r in expected["daily_by_org"]}
        assert sorted(_column(page, "daily", "day")) == sorted(days)
        page.screenshot(path=str(shots / "desktop-zh.png"), full_page=True)

        # It refreshes itself: an event sent now shows up without a reload.
        more = event("sampling.assisted")
        more["data"]["people_assisted"] = 9
        with Producer(isolated) as producer:
            producer.send(line(more)).result()
        want = totals["sampling_assists"] + 9
        page.wait_for_function(
            "want => document.querySelector('#headline [data-figure=sampling_assists]')"
            ".dataset.value === String(want)",
            arg=want,
            timeout=60_000,
        )
        shown = _shown(page)
        assert shown["sampling_assists"] == want
        assert more["org_id"] not in {r["org_id"] for r in expected["daily_by_org"]}
        assert shown["orgs"] == totals["orgs"] + 1  # its org is new to the campaign

        # English: every label switches, the figures stay.
        page.click("[data-lang=en]")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("#headline-title").inner_text() == LABELS["en"]["headline"]
        assert (
            page.locator('[data-figure="volunteers"] dt').inner_text()
            == (LABELS["en"]["volunteers"])
        )
        assert _shown(page) == shown
        assert "lang=en" in page.url

        # One org: the tables narrow to it and its days add up as expected.json says.
        org_rows = [r for r in expected["daily_by_org"] if r["org_id"] == "org-0001"]
        assert org_rows, "the campaign has no org-0001"
        page.select_option("#org", "org-0001")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#by-org tbody td[data-column=org_id]')]"
            ".every(td => td.textContent === 'org-0001')"
        )
        page.wait_for_function(
            f"() => document.querySelectorAll('#daily tbody tr').length === {len(org_rows)}"
        )
        assert set(_column(page, "by-team", "org_id")) == {"org-0001"}
        assert set(_column(page, "by-site", "org_id")) == {"org-0001"}
        assists = [_figure(t, "x") for t in _column(page, "daily", "sampling_assists")]
        assert sum(assists) == sum(r["sampling_assists"] for r in org_rows)
        volunteers = [_figure(t, "volunteers") for t in _column(page, "daily", "volunteers")]
        assert sorted(volunteers) == sorted(r["volunteers"] for r in org_rows)
        assert "org=org-0001" in page.url

        # A date range: one day of that org. Each fill is a change, so the page asks for
        # `from` alone and then for both; the answer to `from` alone is held back until the
        # range's is shown, and arriving last it must not replace the range's figures.
        day = org_rows[0]["day"]
        held: list[Route] = []

        def hold_from_alone(route: Route) -> None:
            query = parse_qs(urlparse(route.request.url).query)
            if "from" in query and "to" not in query:
                held.append(route)
            else:
                route.continue_()

        page.route("**/api/daily_by_org?*", hold_from_alone)
        page.fill("#from", day)
        page.fill("#to", day)
        page.wait_for_function("() => document.querySelectorAll('#daily tbody tr').length === 1")
        assert len(held) == 1, f"{len(held)} answers to `from` alone held"
        held[0].continue_()
        page.wait_for_function(
            "query => document.body.dataset.answered === query", arg=f"org=org-0001&from={day}"
        )
        page.unroute("**/api/daily_by_org?*")
        assert _column(page, "daily", "day") == [day]
        assert _figure(_column(page, "daily", "checkins")[0], "x") == org_rows[0]["checkins"]
        assert f"from={day}" in page.url

        # Sorting: a click on a column orders the rows by it.
        page.click('#by-team th button[data-column="sampling_assists"]')
        values = [_figure(t, "x") for t in _column(page, "by-team", "sampling_assists")]
        assert values == sorted(values, reverse=True)
        page.screenshot(path=str(shots / "desktop-en-org.png"), full_page=True)

        # A phone: one column, nothing wider than the screen (wide tables scroll inside).
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide on a phone"
        page.screenshot(path=str(shots / "phone-en-org.png"), full_page=True)
        page.close()
    assert errors == []
    for name in ("desktop-zh.png", "desktop-en-org.png", "phone-en-org.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
