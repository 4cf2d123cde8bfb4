"""The Liaocheng spring-2022 campaign as numbers: figures of the article and how to spread them.

Everything here is data; `plan(scale)` turns it into integer volumes for one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

NAME: Final = "liaocheng-2022"
FIRST_DAY: Final = date(2022, 3, 14)  # the Civil Affairs Bureau's call to social organizations
LAST_DAY: Final = date(2022, 5, 5)  # "截至5月5日"
DAYS: Final = (LAST_DAY - FIRST_DAY).days + 1  # 53

# Article figures (DESIGN.md table) at scale 1. Volumes are chosen a little above each "N+"
# figure so that the random parts never fall below it.
ORGS: Final = 212  # "200余家社会组织"
TEAMS: Final = 3_485  # "3485支志愿服务队"
VOLUNTEERS: Final = 71_520  # "7.15万余名志愿者"
CHECKINS: Final = 12_480  # "志愿服务12000多人次": shifts started
CALLS: Final = 53_200  # "拨打流调电话5.3万多次"
SAMPLING_PEOPLE: Final = 6_035_000  # "协助开展核酸采样603万余人次" (expected value of the sum)
DISINFECTED_M2: Final = 18_036_000  # "防疫消杀面积1800多万平方米" (exact: antithetic pairs)
DONATIONS_FEN: Final = 6_368_000_000  # "共计捐款6368万元" (exact: antithetic pairs)
DISINFECTIONS: Final = 12_000  # events; ~1,500 m2 each
DONATIONS: Final = 4_000  # events; ~15,920 yuan each
SITES: Final = 1_200

# The Volunteer Federation (org-0001): 37,000 of the volunteers, 980,000 of the sampling assists.
VF_VOLUNTEERS: Final = 37_000
VF_SAMPLING_SHARE: Final = 980_000 / SAMPLING_PEOPLE
VF_CHECKIN_SHARE: Final = 0.30

# people_assisted per sampling event: mostly one person (one registration, one elderly person
# helped); some families. Mean 1.085.
PEOPLE_ASSISTED: Final = ((0.95, 1, 1), (0.03, 2, 2), (0.015, 3, 3), (0.005, 4, 8))
MEAN_PEOPLE: Final = 0.95 + 0.03 * 2 + 0.015 * 3 + 0.005 * 6

# City-wide mass-testing rounds: sampling peaks (x8) and more shifts (x2) on these days.
MASS_TESTING: Final = frozenset(
    FIRST_DAY + timedelta(days=d) for d in (2, 3, 9, 16, 23, 24, 30, 37, 44, 51)
)

# Activity per local hour (0-23), relative.
HOURS_SAMPLING: Final = (0, 0, 0, 0, 0, 1, 4, 9, 10, 10, 9, 7, 4, 5, 7, 7, 6, 5, 3, 2, 1, 0, 0, 0)
HOURS_SHIFTS: Final = (0, 0, 0, 0, 0, 2, 6, 8, 6, 4, 3, 2, 3, 4, 4, 3, 2, 3, 4, 3, 2, 0, 0, 0)
HOURS_CALLS: Final = (0, 0, 0, 0, 0, 0, 0, 1, 4, 6, 6, 5, 3, 4, 6, 6, 5, 4, 3, 3, 3, 2, 1, 0)
# Disinfection mostly in the evening ("每天晚上8时至12时").
HOURS_DISINFECTION: Final = (1, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 1, 1, 2, 2, 2, 1, 2, 3, 4, 9, 9, 8, 7)
HOURS_DONATIONS: Final = (0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 4, 3, 3, 4, 4, 3, 2, 1, 1, 1, 0, 0, 0)

# Deliberate imperfections (fractions). Documented in docs/contract.md.
RATE_RETRIED: Final = 0.01  # unique events sent again (same event_id)
RATE_RETRY_IDENTICAL: Final = 0.5  # of retries: identical bytes; the rest are re-serialized
RATE_LATE: Final = 0.005  # events arriving 1-5 days after they happened
RATE_NEVER_CLOSED: Final = 0.04  # shifts never checked out
RATE_OUT_OF_ORDER: Final = 0.05  # closed shifts whose check-out arrives before the check-in
RATE_PILOT_V0: Final = 0.002  # sampling events in the pilot app's schema_version 0
RATE_INVALID: Final = 0.0005  # invalid lines per unique event (at least 2 per code)
# Unique events whose event_id a buggy app reuses later for another event (another volunteer,
# or another type): conflicts, dead-lettered by the worker, never counted. One in this many.
CONFLICT_EVERY: Final = 2000
# Corrections (event.voided): unique events an operator enters a second time by mistake (a new
# event_id, same content) and then voids. Of those voids, some come before the mistaken copy
# arrives, some are sent twice; and one void in UNKNOWN_VOID_EVERY names an id never sent.
# Neither the copies nor the voids reach the expected counts.
RATE_MISTAKEN: Final = 0.001
RATE_VOID_FIRST: Final = 0.1
RATE_VOIDED_TWICE: Final = 0.1
UNKNOWN_VOID_EVERY: Final = 10
VOID_REASONS: Final = ("entered twice by mistake", "duplicate entry", "wrong record")
AUTO_CLOSE_S: Final = 16 * 3600


@dataclass(frozen=True)
class Plan:
    """Integer volumes of one run at a given scale."""

    scale: float
    orgs: int
    teams: int
    vf_teams: int
    volunteers: int
    vf_volunteers: int
    sites: int
    checkins: int
    calls: int
    sampling_events: int
    disinfections: int
    donations: int
    area_base: int  # mean m2 per disinfection; pairs sum to twice this
    donation_base: int  # mean fen per donation


def _scaled(n: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(n * scale))


def plan(scale: float) -> Plan:
    """Volumes at `scale` (1 = the article). Distinct-id counts scale too."""
    if not 0 < scale <= 100:
        raise ValueError("scale must be in (0, 100]")
    orgs = _scaled(ORGS, scale, 2)
    volunteers = _scaled(VOLUNTEERS, scale, 4)
    vf_volunteers = min(volunteers - (orgs - 1), _scaled(VF_VOLUNTEERS, scale))
    teams = min(volunteers, max(orgs, _scaled(TEAMS, scale)))
    vf_teams = max(1, min(teams - (orgs - 1), round(teams * vf_volunteers / volunteers)))
    disinfections = _scaled(DISINFECTIONS, scale, 2)
    donations = _scaled(DONATIONS, scale, 2)
    return Plan(
        scale=scale,
        orgs=orgs,
        teams=teams,
        vf_teams=vf_teams,
        volunteers=volunteers,
        vf_volunteers=vf_volunteers,
        sites=_scaled(SITES, scale),
        checkins=_scaled(CHECKINS, scale),
        calls=_scaled(CALLS, scale),
        sampling_events=_scaled(SAMPLING_PEOPLE / MEAN_PEOPLE, scale),
        disinfections=disinfections,
        donations=donations,
        area_base=round(DISINFECTED_M2 * scale / disinfections),
        donation_base=round(DONATIONS_FEN * scale / donations),
    )


def article_figures(scale: float) -> dict[str, float]:
    """The article's figures times `scale`, for comparison with a run."""
    return {
        "orgs": 200 * scale,
        "teams": TEAMS * scale,
        "volunteers": 71_500 * scale,
        "checkins": 12_000 * scale,
        "calls": 53_000 * scale,
        "sampling_assists": 6_030_000 * scale,
        "disinfected_m2": 18_000_000 * scale,
        "donations_fen": DONATIONS_FEN * scale,
    }
