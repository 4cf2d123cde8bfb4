"""Generates a campaign as JSON Lines, in arrival order, with flat memory.

Time advances minute by minute over the campaign; each minute gets an exact number of events
per type (day weights x hour weights, rounded cumulatively so totals are exact). Events that
must arrive later (late events, retries, check-outs, held-back check-ins) wait in a heap keyed
by arrival minute. Lines are formatted by hand: pydantic per event would be ~10x slower and the
tests decode every line of a small run to prove the format.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from random import Random
from typing import Any, Final

from events.decode import SHANGHAI
from events.privacy import contact_ref
from events.rejections import REJECTION_CODES
from events.simulator import scenario as sc
from events.simulator.expected import AS_OF_DEFAULT, Expected
from events.simulator.invalid import invalid_line

Progress = Callable[[int, int, int], None]  # (minutes done, minutes total, lines written)

_START: Final = datetime(2022, 3, 14, tzinfo=SHANGHAI)
_END_S: Final = int((_START + timedelta(days=sc.DAYS)).timestamp()) - 1
_SIM_KEY: Final = b"frontline-simulator-key"
_ACTIVITIES: Final = ("sampling_support", "disinfection", "tracing_calls", "order_keeping")
_ASSIST_KINDS: Final = ("registration", "registration", "order_keeping", "elderly_help", "other")
_DONORS: Final = ("individual", "individual", "company", "social_org", "anonymous", "other")
_PLATFORMS: Final = ("android", "ios", "miniprogram")
_OUTCOMES: Final = (
    (0.62, "reached"),
    (0.82, "no_answer"),
    (0.87, "wrong_number"),
    (0.92, "refused"),
    (1.01, "callback_requested"),
)


def split(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to `weights` summing exactly to `total` (cumulative rounding)."""
    whole = sum(weights)
    out, done, acc = [], 0, 0.0
    for w in weights:
        acc += w
        upto = round(total * acc / whole)
        out.append(upto - done)
        done = upto
    return out


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, SHANGHAI).isoformat()


class Campaign:
    """One run: `run(write)` streams lines to `write` and returns the expected.json document."""

    def __init__(self, plan: sc.Plan, seed: int) -> None:
        self.plan = plan
        self.seed = seed
        self.rng = Random(seed)
        p = plan
        self.org_ids = [f"org-{o + 1:04d}" for o in range(p.orgs)]
        # Teams: the Volunteer Federation (org 0) first, then the others round-robin.
        self.team_org = [0] * p.vf_teams + [
            1 + i % (p.orgs - 1) for i in range(p.teams - p.vf_teams)
        ]
        per_org: Counter[int] = Counter()
        self.team_ids = []
        for org in self.team_org:
            per_org[org] += 1
            self.team_ids.append(f"team-{org + 1:04d}-{per_org[org]:04d}")
        others = p.teams - p.vf_teams
        self.vol_team = [v % p.vf_teams for v in range(p.vf_volunteers)] + [
            p.vf_teams + i % others for i in range(p.volunteers - p.vf_volunteers)
        ]
        self.vol_org = [self.team_org[t] for t in self.vol_team]
        # The envelope fields after occurred_at, per volunteer (bounded by ids, not events).
        self.vol_env = [
            f'"org_id":"{self.org_ids[self.vol_org[v]]}","team_id":"{self.team_ids[t]}",'
            f'"volunteer_id":"vol-{v:06d}","source":"app:{_PLATFORMS[v % 3]}:1.4.2:dev-{v:06x}"'
            for v, t in enumerate(self.vol_team)
        ]
        self.expected = Expected(p.orgs, p.teams, p.volunteers)
        self.heap: list[tuple[int, int, bytes, str]] = []
        self.seq = 0
        self.out: list[bytes] = []
        self.lines_by_family: Counter[str] = Counter()
        self.unique_by_type: Counter[str] = Counter()
        self.invalid_by_code: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.minute = 0
        self.pending_area: int | None = None
        self.pending_fen: int | None = None

    # -- helpers -----------------------------------------------------------------------------

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _push(self, release: int, line: bytes, fam: str) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (release, self.seq, line, fam))

    def _emit(self, line: bytes, fam: str, release: int) -> None:
        """Send one unique event: maybe late, maybe retried."""
        rnd = self.rng.random
        on_time = release
        if rnd() < sc.RATE_LATE:
            self.counts["late"] += 1
            release += 1440 * (1 + int(rnd() * 5)) + int(rnd() * 720)
        if release <= self.minute:
            self.out.append(line)
            self.lines_by_family[fam] += 1
        else:
            self._push(release, line, fam)
        self.counts["emitted"] += 1
        if self.counts["emitted"] % sc.CONFLICT_EVERY == sc.CONFLICT_EVERY // 2:
            self.counts["conflicts"] += 1
            conflicting, conflict_family = self._conflicting(line, fam)
            self._push(release + 1 + int(rnd() * 180), conflicting, conflict_family)
        if rnd() < sc.RATE_RETRIED:
            if rnd() < sc.RATE_RETRY_IDENTICAL:
                self.counts["duplicates_identical"] += 1
                retry = line
            else:  # another client library: other key order and whitespace
                self.counts["duplicates_reserialized"] += 1
                doc = json.loads(line)
                retry = json.dumps(doc, sort_keys=True, separators=(", ", ": ")).encode() + b"\n"
            self._push(release + 1 + int(rnd() * 180), retry, fam)
        if rnd() < sc.RATE_MISTAKEN:
            self._mistaken(line, fam, on_time)  # the copy is never late: `late` stays exact

    def _mistaken(self, line: bytes, fam: str, release: int) -> None:
        """The same event entered a second time (a new event_id), then voided by the operator;
        sometimes the void comes first (the copy is delayed), sometimes it is sent twice."""
        rnd = self.rng.random
        doc = json.loads(line)
        copy_id = self._uuid()
        copy = line.replace(doc["event_id"].encode(), copy_id.encode(), 1)
        self.counts["mistaken"] += 1
        void_at = release + 5 + int(rnd() * 600)
        copy_at = release + int(rnd() * 60)
        if rnd() < sc.RATE_VOID_FIRST:
            self.counts["void_first"] += 1
            copy_at = void_at + 1 + int(rnd() * 60)
        self._push(copy_at, copy, fam)
        self.unique_by_type[doc["type"]] += 1
        self._void(doc, copy_id, void_at)
        if rnd() < sc.RATE_VOIDED_TWICE:
            self.counts["voided_twice"] += 1  # the worker ignores it: not accepted
            self._void(doc, copy_id, void_at + 1 + int(rnd() * 60), counted=False)
        if self.counts["mistaken"] % sc.UNKNOWN_VOID_EVERY == sc.UNKNOWN_VOID_EVERY // 2:
            self.counts["void_unknown"] += 1  # an id never sent: accepted, voids nothing
            self._void(doc, self._uuid(), void_at)

    def _void(self, doc: dict[str, Any], target: str, minute: int, counted: bool = True) -> None:
        at = int(_START.timestamp()) + minute * 60
        void = {
            "event_id": self._uuid(),
            "type": "event.voided",
            "schema_version": 1,
            "occurred_at": _iso(at),
            "org_id": doc["org_id"],
            "team_id": doc["team_id"],
            "volunteer_id": doc["volunteer_id"],
            "source": "app:web:2.0.1:admin-console",
            "data": {
                "voided_event_id": target,
                "reason": sc.VOID_REASONS[int(self.rng.random() * len(sc.VOID_REASONS))],
            },
        }
        self._push(minute, json.dumps(void, separators=(",", ":")).encode() + b"\n", "corrections")
        if counted:
            self.unique_by_type["event.voided"] += 1

    def _conflicting(self, line: bytes, fam: str) -> tuple[bytes, str]:
        """A valid event that reuses `line`'s event_id with other content: alternately another
        volunteer's, and a donation (another type, so once another topic)."""
        doc = json.loads(line)
        if self.counts["conflicts"] % 2 and doc["schema_version"] == 1:
            other = doc["volunteer_id"]
            while other == doc["volunteer_id"]:
                other = f"vol-{self._pick(0.0):06d}"
            doc["volunteer_id"] = other
        else:
            doc["type"] = "donation.received"
            doc["schema_version"] = 1
            doc["data"] = {"amount_fen": 99_999_900, "donor_kind": "other"}
            fam = "donations"
        return json.dumps(doc, separators=(",", ":")).encode() + b"\n", fam

    def _pick(self, vf_share: float) -> int:
        p, rnd = self.plan, self.rng.random
        if rnd() < vf_share:
            return int(rnd() * p.vf_volunteers)
        return p.vf_volunteers + int(rnd() * (p.volunteers - p.vf_volunteers))

    def _antithetic(self, base: int, spread: float, pending: int | None) -> tuple[int, int | None]:
        """Pairs of draws that sum to exactly 2 x base: exact totals, random-looking values."""
        if pending is not None:
            return pending, None
        value = base + int((self.rng.random() * 2 - 1) * spread * base)
        return value, 2 * base - value

    # -- event makers (one minute, `n` events each) ------------------------------------------

    def _sampling(self, n: int, prefix: str, t0: int) -> None:
        rnd, p, exp = self.rng.random, self.plan, self.expected
        env, vol_org, vol_team = self.vol_env, self.vol_org, self.vol_team
        share = sc.VF_SAMPLING_SHARE * sc.VOLUNTEERS / sc.VF_VOLUNTEERS * p.vf_volunteers
        share /= p.volunteers
        for _ in range(n):
            v = self._pick(share)
            sec = int(rnd() * 60)
            r = rnd()
            people = 1
            for cum, lo, hi in _PEOPLE_CUM:
                if r < cum:
                    people = lo if lo == hi else lo + int(rnd() * (hi - lo + 1))
                    break
            site = (vol_team[v] * 7 + int(rnd() * 3)) % p.sites
            if rnd() < sc.RATE_PILOT_V0:
                self.counts["pilot_v0"] += 1
                data = f'"data":{{"site_id":"site-{site:05d}","count":{people}}}}}\n'
                version = 0
            else:
                kind = _ASSIST_KINDS[int(rnd() * 5)]
                data = (
                    f'"data":{{"site_id":"site-{site:05d}","people_assisted":{people},'
                    f'"assist_kind":"{kind}"}}}}\n'
                )
                version = 1
            line = (
                f'{{"event_id":"{self._uuid()}","type":"sampling.assisted",'
                f'"schema_version":{version},"occurred_at":"{prefix}{sec:02d}+08:00",'
                f"{env[v]},{data}"
            )
            self._emit(line.encode(), "sampling", self.minute)
            exp.sampling(t0 + sec, vol_org[v], vol_team[v], v, people)
        self.unique_by_type["sampling.assisted"] += n

    def _shifts(self, n: int, prefix: str, t0: int) -> None:
        rnd, p, exp = self.rng.random, self.plan, self.expected
        for _ in range(n):
            v = self._pick(sc.VF_CHECKIN_SHARE)
            org, team = self.vol_org[v], self.vol_team[v]
            sec = int(rnd() * 60)
            t_in = t0 + sec
            self.counts["shifts"] += 1
            shift = self.counts["shifts"]
            site = (team * 7 + int(rnd() * 3)) % p.sites
            ids = f'"shift_id":"sh-{shift:07d}","site_id":"site-{site:05d}"'
            checkin = (
                f'{{"event_id":"{self._uuid()}","type":"volunteer.checked_in",'
                f'"schema_version":1,"occurred_at":"{prefix}{sec:02d}+08:00",{self.vol_env[v]},'
                f'"data":{{{ids},"activity":"{_ACTIVITIES[int(rnd() * 4)]}"}}}}\n'
            ).encode()
            exp.checked_in(t_in, org, team, v, shift)
            self.unique_by_type["volunteer.checked_in"] += 1
            if rnd() < sc.RATE_NEVER_CLOSED:
                self.counts["never_closed"] += 1
                self._emit(checkin, "shifts", self.minute)
                continue
            # 2-8 h in steps of 36 s (0.01 h): hours sum exactly; ends within the campaign.
            duration = 36 * (200 + int(rnd() * 601))
            duration = min(duration, (_END_S - t_in) // 36 * 36)
            t_out = t_in + duration
            checkout = (
                f'{{"event_id":"{self._uuid()}","type":"volunteer.checked_out",'
                f'"schema_version":1,"occurred_at":"{_iso(t_out)}",{self.vol_env[v]},'
                f'"data":{{{ids}}}}}\n'
            ).encode()
            exp.checked_out(t_out, org, team, v, shift)
            self.unique_by_type["volunteer.checked_out"] += 1
            out_minute = self.minute + (t_out - t0) // 60
            if rnd() < sc.RATE_OUT_OF_ORDER:
                self.counts["checkin_after_checkout"] += 1
                self._emit(checkout, "shifts", out_minute)
                self._emit(checkin, "shifts", out_minute + 1 + int(rnd() * 30))
            else:
                self._emit(checkin, "shifts", self.minute)
                self._emit(checkout, "shifts", out_minute)

    def _calls(self, n: int, prefix: str, t0: int) -> None:
        rnd, exp = self.rng.random, self.expected
        for _ in range(n):
            v = self._pick(0.5)
            sec = int(rnd() * 60)
            r = rnd()
            outcome = next(name for cum, name in _OUTCOMES if r < cum)
            reached = outcome == "reached"
            # Steps of 6 s (0.1 min): minutes sum exactly.
            duration = 6 * (6 + int(rnd() * 195)) if reached else 6 * int(rnd() * 10)
            started = _iso(t0 + sec - duration - 6 * int(rnd() * 5))
            phone = f"1{'3456789'[int(rnd() * 7)]}{int(rnd() * 1e9):09d}"
            line = (
                f'{{"event_id":"{self._uuid()}","type":"tracing.call_recorded",'
                f'"schema_version":1,"occurred_at":"{prefix}{sec:02d}+08:00",{self.vol_env[v]},'
                f'"data":{{"contact_ref":"{contact_ref(phone, _SIM_KEY)}",'
                f'"started_at":"{started}","duration_s":{duration},"outcome":"{outcome}"}}}}\n'
            )
            self._emit(line.encode(), "calls", self.minute)
            exp.call(t0 + sec, self.vol_org[v], self.vol_team[v], v, reached, duration)
        self.unique_by_type["tracing.call_recorded"] += n

    def _disinfections(self, n: int, prefix: str, t0: int) -> None:
        rnd, p, exp = self.rng.random, self.plan, self.expected
        for _ in range(n):
            v = self._pick(0.25)
            sec = int(rnd() * 60)
            area, self.pending_area = self._antithetic(p.area_base, 0.9, self.pending_area)
            floors = 0 if rnd() < 0.3 else 1 + int(rnd() * 33)
            site = (self.vol_team[v] * 7 + int(rnd() * 3)) % p.sites
            line = (
                f'{{"event_id":"{self._uuid()}","type":"disinfection.completed",'
                f'"schema_version":1,"occurred_at":"{prefix}{sec:02d}+08:00",{self.vol_env[v]},'
                f'"data":{{"site_id":"site-{site:05d}","area_m2":{area},"floors":{floors}}}}}\n'
            )
            self._emit(line.encode(), "disinfection", self.minute)
            exp.disinfection(t0 + sec, self.vol_org[v], self.vol_team[v], v, area, floors)
        self.unique_by_type["disinfection.completed"] += n

    def _donations(self, n: int, prefix: str, t0: int) -> None:
        rnd, p, exp = self.rng.random, self.plan, self.expected
        for _ in range(n):
            v = self._pick(0.2)
            sec = int(rnd() * 60)
            fen, self.pending_fen = self._antithetic(p.donation_base, 0.95, self.pending_fen)
            line = (
                f'{{"event_id":"{self._uuid()}","type":"donation.received",'
                f'"schema_version":1,"occurred_at":"{prefix}{sec:02d}+08:00",{self.vol_env[v]},'
                f'"data":{{"amount_fen":{fen},"donor_kind":"{_DONORS[int(rnd() * 6)]}"}}}}\n'
            )
            self._emit(line.encode(), "donations", self.minute)
            exp.donation(t0 + sec, self.vol_org[v], self.vol_team[v], v, fen)
        self.unique_by_type["donation.received"] += n

    def _invalid(self, code: str, prefix: str) -> None:
        v = self._pick(0.5)
        event: dict[str, Any] = {
            "event_id": self._uuid(),
            "type": "sampling.assisted",
            "schema_version": 1,
            "occurred_at": f"{prefix}{int(self.rng.random() * 60):02d}+08:00",
            "org_id": self.org_ids[self.vol_org[v]],
            "team_id": self.team_ids[self.vol_team[v]],
            "volunteer_id": f"vol-{v:06d}",
            "source": f"app:{_PLATFORMS[v % 3]}:1.4.2:dev-{v:06x}",
            "data": {"site_id": "site-00001", "people_assisted": 1, "assist_kind": "other"},
        }
        self.out.append(invalid_line(code, event, self.rng))
        self.invalid_by_code[code] += 1

    # -- the run -----------------------------------------------------------------------------

    def run(
        self, write: Callable[[bytes], None], progress: Progress | None = None
    ) -> dict[str, Any]:
        p = self.plan
        days = [sc.FIRST_DAY + timedelta(days=d) for d in range(sc.DAYS)]
        mass = [day in sc.MASS_TESTING for day in days]
        volumes = {
            "sampling": split(p.sampling_events, [8.0 if m else 1.0 for m in mass]),
            "shifts": split(p.checkins, [2.0 if m else 1.0 for m in mass]),
            "calls": split(p.calls, [2.0 if 3 <= d <= 27 else 1.0 for d in range(sc.DAYS)]),
            "disinfection": split(
                p.disinfections, [2.0 if d < 18 else 1.0 for d in range(sc.DAYS)]
            ),
            "donations": split(p.donations, [1.0] * sc.DAYS),
        }
        makers = {
            "sampling": (self._sampling, sc.HOURS_SAMPLING),
            "shifts": (self._shifts, sc.HOURS_SHIFTS),
            "calls": (self._calls, sc.HOURS_CALLS),
            "disinfection": (self._disinfections, sc.HOURS_DISINFECTION),
            "donations": (self._donations, sc.HOURS_DONATIONS),
        }
        unique = sum(map(sum, volumes.values())) + p.checkins  # check-outs ~ check-ins
        n_invalid = max(2 * len(REJECTION_CODES), round(sc.RATE_INVALID * unique))
        total_minutes = sc.DAYS * 1440
        written = 0
        t_start = int(_START.timestamp())
        for d, day in enumerate(days):
            per_minute = {
                fam: split(volumes[fam][d], [float(w) for w in hours for _ in range(60)])
                for fam, (_, hours) in makers.items()
            }
            for m in range(1440):
                self.minute = minute = d * 1440 + m
                heap = self.heap
                while heap and heap[0][0] <= minute:
                    _, _, line, fam = heapq.heappop(heap)
                    self.out.append(line)
                    self.lines_by_family[fam] += 1
                prefix = f"{day.isoformat()}T{m // 60:02d}:{m % 60:02d}:"
                t0 = t_start + minute * 60
                for fam, (make, _) in makers.items():
                    n = per_minute[fam][m]
                    if n:
                        make(n, prefix, t0)
                due = n_invalid * (minute + 1) // total_minutes
                while sum(self.invalid_by_code.values()) < due:
                    code = REJECTION_CODES[
                        sum(self.invalid_by_code.values()) % len(REJECTION_CODES)
                    ]
                    self._invalid(code, prefix)
                if self.out:
                    written += len(self.out)
                    write(b"".join(self.out))
                    self.out.clear()
            if progress is not None:
                progress((d + 1) * 1440, total_minutes, written)
        while self.heap:  # late arrivals after the campaign's last minute
            _, _, line, fam = heapq.heappop(self.heap)
            self.out.append(line)
            self.lines_by_family[fam] += 1
        written += len(self.out)
        write(b"".join(self.out))
        self.out.clear()
        return self._document(written)

    def _document(self, written: int) -> dict[str, Any]:
        result = self.expected.result(AS_OF_DEFAULT, sc.AUTO_CLOSE_S, self.org_ids)
        unique = sum(self.unique_by_type.values())
        duplicates = self.counts["duplicates_identical"] + self.counts["duplicates_reserialized"]
        return {
            "scenario": sc.NAME,
            "scale": self.plan.scale,
            "seed": self.seed,
            "as_of": AS_OF_DEFAULT.isoformat(),
            "auto_close_hours": sc.AUTO_CLOSE_S // 3600,
            "totals": result["totals"],
            "daily_by_org": result["daily_by_org"],
            "meta": {
                "lines": written,
                "accepted_unique": unique,
                "duplicates": duplicates,
                "duplicates_identical": self.counts["duplicates_identical"],
                "duplicates_reserialized": self.counts["duplicates_reserialized"],
                # Valid lines, reusing an earlier event's id with other content: the worker
                # dead-letters them as conflicting_duplicate; they never count.
                "conflicts": self.counts["conflicts"],
                "dead_letters_by_code": dict(
                    sorted(
                        (
                            self.invalid_by_code
                            + Counter(conflicting_duplicate=self.counts["conflicts"])
                        ).items()
                    )
                ),
                "invalid": sum(self.invalid_by_code.values()),
                "invalid_by_code": dict(sorted(self.invalid_by_code.items())),
                "accepted_unique_by_type": dict(sorted(self.unique_by_type.items())),
                "lines_by_family": dict(sorted(self.lines_by_family.items())),
                "late": self.counts["late"],
                "checkin_after_checkout": self.counts["checkin_after_checkout"],
                "never_closed": self.counts["never_closed"],
                "pilot_v0": self.counts["pilot_v0"],
                # Corrections: mistaken copies (accepted, then voided: they never count), their
                # voids (accepted), second voids (ignored, in `uncounted`), voids of ids never
                # sent (accepted), and voids that came before their copy.
                "mistaken": self.counts["mistaken"],
                "void_first": self.counts["void_first"],
                "voided_twice": self.counts["voided_twice"],
                "void_unknown": self.counts["void_unknown"],
                "service_seconds": result["exact"]["service_seconds"],
                "call_seconds": result["exact"]["call_seconds"],
                "article_figures": sc.article_figures(self.plan.scale),
            },
        }


_PEOPLE_CUM: Final = tuple(
    (sum(w for w, _, _ in sc.PEOPLE_ASSISTED[: i + 1]), lo, hi)
    for i, (_, lo, hi) in enumerate(sc.PEOPLE_ASSISTED)
)
