"""deploy/grafana: the datasource Grafana provisions is the read-only `dashboard` user, and every
query of the dashboard reads only the public views (`totals`, `daily_by_org`) and their columns
(DESIGN.md, "The dashboard contract"), runs on the 18.16 server as that user once Grafana's
macros are filled in, and gives the figures `totals` gives.

No Grafana runs here: the check of what the queries name is a small tokenizer, and the macros
are expanded as the ClickHouse plugin expands them (its pkg/macros: `$__dateFilter(col)` is
`col >= toDate('from') AND col <= toDate('to')`, `$__fromTime` is `toDateTime(epoch)`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from projections.columns import DAILY_BY_ORG, PUBLIC
from streams.settings import Settings
from tests.integration.conftest import SharedCampaign

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "frontline.json"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "frontline.yaml"
PROVIDER = GRAFANA / "provisioning" / "dashboards" / "frontline.yaml"

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "frontline-clickhouse"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The public views and their columns: all a dashboard may read.
VIEWS: Final[Mapping[str, frozenset[str]]] = {
    "totals": frozenset(PUBLIC),
    "daily_by_org": frozenset(DAILY_BY_ORG),
}
# What a query may say besides the views' columns and its own aliases. Functions are a short
# list of harmless ones (a table function or dictGet would read something else).
KEYWORDS: Final = _words(
    "SELECT DISTINCT FROM WHERE AND OR NOT IN AS GROUP BY ORDER ASC DESC LIMIT HAVING "
    "JOIN ANY ALL LEFT INNER USING ON BETWEEN IS NULL CASE WHEN THEN ELSE END"
)
FUNCTIONS: Final = _words(
    "sum count min max avg any round if greatest least modulo intDiv toDate toDateTime "
    "toStartOfWeek toStartOfMonth"
)
# Statements a dashboard must never run (only SELECT is accepted anyway; these get a clearer
# message).
WRITES: Final = _words(
    "INSERT ALTER DROP CREATE TRUNCATE RENAME OPTIMIZE ATTACH DETACH KILL SYSTEM SET GRANT "
    "REVOKE DELETE UPDATE"
)
# The plugin's macros this checker knows how to expand (name -> number of arguments), and the
# dashboard's one variable with the one format that quotes its values.
MACROS: Final = {"__dateFilter": 1, "__timeFilter": 1, "__fromTime": 0, "__toTime": 0}
VARIABLES: Final = frozenset({"${org:singlequote}"})

# The headline stat panels: each reads one figure of `totals` (donations in yuan).
HEADLINES: Final = frozenset(
    {
        "orgs",
        "volunteers",
        "teams",
        "checkins",
        "service_hours",
        "calls",
        "calls_reached",
        "sampling_assists",
        "disinfected_m2",
        "donations_yuan",
    }
)
# Columns that add up over days and orgs to the figure of `totals` (no rounding per row).
ADDITIVE: Final = frozenset(
    {"checkins", "calls", "calls_reached", "sampling_assists", "disinfected_m2", "floors"}
)

TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<comment>--[^\n]*|/\*.*?\*/)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<variable>\$\{[^}]*\}|\$\w+)
    |(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<quoted>"[^"]*"|`[^`]*`)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op><=|>=|!=|<>|[-+*/=<>(),.;])
    """,
    re.VERBOSE | re.DOTALL,
)


class QueryRejectedError(Exception):
    """A dashboard query reads, or may read, something other than the public views."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Query:
    where: str  # which panel or variable, for messages
    kind: str  # the panel type, or "variable"
    sql: str


def tokenize(sql: str, where: str) -> list[Token]:
    """The query's tokens, without spaces and comments; anything else unreadable is refused."""
    tokens = []
    pos = 0
    while pos < len(sql):
        match = TOKEN.match(sql, pos)
        if match is None or match.lastgroup is None:
            raise QueryRejectedError(f"{where}: cannot read {sql[pos : pos + 20]!r} in {sql!r}")
        if match.lastgroup not in ("space", "comment"):
            tokens.append(Token(match.lastgroup, match.group()))
        pos = match.end()
    return tokens


def _name(token: Token) -> str:
    return token.text[1:-1] if token.kind == "quoted" else token.text


def check_query(sql: str, where: str = "query") -> set[str]:
    """The public views `sql` reads; QueryRejectedError, naming the query and the name, unless it is
    one SELECT that names only the public views, their columns, its own aliases, and the
    keywords, functions, macros and variable above."""
    tokens = tokenize(sql, where)

    def reject(reason: str) -> QueryRejectedError:
        return QueryRejectedError(f"{where}: {reason}, in {sql!r}")

    if not tokens or tokens[0].text.upper() != "SELECT":
        raise reject("not a SELECT")
    views: set[str] = set()
    aliases: set[str] = set()
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        upper = token.text.upper()
        if token.text == ";":
            raise reject("more than one statement (;)")
        if token.kind == "name" and upper in WRITES:
            raise reject(f"{token.text} is not a read")
        if token.kind in ("name", "quoted") and before is not None and before.text.upper() == "AS":
            aliases.add(_name(token))
        if token.kind == "name" and upper in ("FROM", "JOIN"):
            if after is None:
                raise reject(f"nothing after {token.text}")
            if after.text == "(":
                continue  # a subquery: its own FROM is checked in turn
            table = _name(after)
            follows = tokens[i + 2].text if i + 2 < len(tokens) else ""
            if follows == ".":
                raise reject(f"{table}.… names a database")
            if follows == "(":
                raise reject(f"table function {table}() is not a public view")
            if table not in VIEWS:
                raise reject(f"reads {table!r}, which is not a public view ({', '.join(VIEWS)})")
            views.add(table)
    if not views:
        raise reject("reads no public view")
    columns = frozenset().union(*(VIEWS[v] for v in views))
    for i, token in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.kind == "variable":
            macro = token.text[1:]
            if macro in MACROS:
                if MACROS[macro] and (after is None or after.text != "("):
                    raise reject(f"macro {token.text} without its argument")
            elif token.text not in VARIABLES:
                raise reject(f"unknown macro or variable {token.text}")
            continue
        if token.text == ".":
            raise reject("a qualified name (x.y)")
        if token.kind not in ("name", "quoted"):
            continue
        name = _name(token)
        if token.kind == "name" and name.upper() in KEYWORDS:
            continue
        if after is not None and after.text == "(":
            if name not in FUNCTIONS:
                raise reject(f"unknown function {name}()")
            continue
        if name in views or name in columns or name in aliases:
            continue
        raise reject(f"unknown name {name!r}: not a column of {', '.join(sorted(views))}")
    return views


def _panels(panels: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def load_dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """Every query of the dashboard: each panel's targets (rows' panels too) and each query
    variable. A target without SQL (a builder query, another datasource) is refused: it would
    escape the check."""
    queries = []
    for panel in _panels(dashboard["panels"]):
        where = f"panel {panel.get('title', panel['id'])!r}"
        if panel["type"] != "row":
            assert panel.get("datasource", {}).get("uid") == DATASOURCE_UID, where
        for target in panel.get("targets", []):
            assert target.get("editorType") == "sql", f"{where}: not a raw SQL query"
            assert target["datasource"] == {"type": PLUGIN, "uid": DATASOURCE_UID}, where
            queries.append(Query(f"{where} {target['refId']}", panel["type"], target["rawSql"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        where = f"variable {variable['name']!r}"
        assert variable["type"] in ("query", "constant", "custom", "interval"), where
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE_UID, where
            query = variable["query"]  # a string, or the plugin's newer {rawSql, ...}
            sql = query if isinstance(query, str) else query["rawSql"]
            queries.append(Query(where, "variable", sql))
    return queries


def expand(sql: str, start: datetime, end: datetime, orgs: Sequence[str]) -> str:
    """`sql` as the plugin sends it for the time range [start, end] and these orgs selected."""

    def date_filter(match: re.Match[str]) -> str:
        col = match.group(1)
        return f"{col} >= toDate('{start:%Y-%m-%d}') AND {col} <= toDate('{end:%Y-%m-%d}')"

    def time_filter(match: re.Match[str]) -> str:
        col = match.group(1)
        return (
            f"{col} >= toDateTime({int(start.timestamp())}) "
            f"AND {col} <= toDateTime({int(end.timestamp())})"
        )

    quoted = ",".join("'" + o.replace("\\", "\\\\").replace("'", "\\'") + "'" for o in orgs)
    sql = re.sub(r"\$__dateFilter\(\s*(\w+)\s*\)", date_filter, sql)
    sql = re.sub(r"\$__timeFilter\(\s*(\w+)\s*\)", time_filter, sql)
    sql = sql.replace("$__fromTime", f"toDateTime({int(start.timestamp())})")
    sql = sql.replace("$__toTime", f"toDateTime({int(end.timestamp())})")
    sql = sql.replace("${org:singlequote}", quoted)
    assert "$" not in sql, f"a macro or variable left unexpanded: {sql!r}"
    return sql


def _day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """A time range from the start of `first` to the end of `last`, as Grafana sends one."""
    start = datetime.combine(first, time(0, 0), UTC)
    return start, datetime.combine(last, time(23, 59, 59), UTC)


# -- what the dashboard says, checked without the stack ---------------------------------------


def test_every_query_reads_only_public_views_and_columns() -> None:
    queries = dashboard_queries(load_dashboard())
    kinds = [q.kind for q in queries]
    assert kinds.count("stat") == len(HEADLINES)
    assert {"timeseries", "table", "variable"} <= set(kinds)
    read: set[str] = set()
    for query in queries:
        read |= check_query(query.sql, query.where)
        if query.kind in ("timeseries", "table"):
            # The time range and the org variable apply to every panel that can honour them.
            assert "$__dateFilter(day)" in query.sql, f"{query.where}: ignores the time range"
            assert "${org:singlequote}" in query.sql, f"{query.where}: ignores $org"
    assert read == set(VIEWS)


@pytest.mark.parametrize(
    ("sql", "complaint"),
    [
        ("SELECT sum(c_calls) FROM counters", "'counters', which is not a public view"),
        ("SELECT count() FROM event_log WHERE day = today()", "'event_log'"),
        ("SELECT volunteer_id FROM event_log", "'event_log'"),
        ("SELECT orgs FROM totals ANY LEFT JOIN counters USING (orgs)", "'counters'"),
        ("SELECT orgs FROM (SELECT orgs FROM presence)", "'presence'"),
        ("SELECT orgs FROM frontline.totals", "names a database"),
        ("SELECT * FROM system.tables", "names a database"),
        ("SELECT * FROM numbers(10)", "table function"),
        ("SELECT member FROM totals", "unknown name 'member'"),
        ("SELECT org_id FROM totals", "unknown name 'org_id'"),
        ("SELECT orgs FROM totals, event_log", "unknown name 'event_log'"),
        ("SELECT dictGet('d', 'x', 1) FROM totals", "unknown function dictGet"),
        ("SELECT day FROM daily_by_org WHERE $__timeFilter_ms(day)", "unknown macro"),
        ("SELECT day FROM daily_by_org WHERE org_id = $org", "unknown macro or variable $org"),
        ("SELECT orgs FROM totals; DROP TABLE totals", "more than one statement"),
        ("INSERT INTO totals SELECT * FROM totals", "not a SELECT"),
        ("SELECT modulo(orgs, 2) FROM totals WHERE orgs % 2 = 0", "cannot read '%"),
        ("SELECT 1", "reads no public view"),
    ],
)
def test_the_check_refuses_what_is_not_public(sql: str, complaint: str) -> None:
    with pytest.raises(QueryRejectedError, match=re.escape(complaint)) as caught:
        check_query(sql, "the bad panel")
    assert "the bad panel" in str(caught.value)


def test_datasource_is_the_read_only_user_of_the_frontline_database() -> None:
    data = yaml.safe_load(DATASOURCE.read_text())
    assert data["apiVersion"] == 1
    [source] = data["datasources"]
    assert source["type"] == PLUGIN
    assert source["uid"] == DATASOURCE_UID
    assert source["jsonData"]["username"] == "dashboard"
    assert source["jsonData"]["protocol"] == "native"
    assert "password" not in source["jsonData"]  # secrets go to secureJsonData only

    # With the environment compose gives Grafana (its defaults), the datasource reaches the
    # database and user Frontline's settings describe.
    grafana = _compose()["services"]["grafana"]
    env = {
        k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in grafana["environment"].items()
    }
    expanded = _grafana_expand(DATASOURCE.read_text(), env)
    source = yaml.safe_load(expanded)["datasources"][0]
    defaults = Settings.from_env({})
    assert source["jsonData"]["defaultDatabase"] == defaults.clickhouse_database
    assert source["secureJsonData"]["password"] == defaults.dashboard_password
    assert source["jsonData"]["host"] == "clickhouse"
    assert int(source["jsonData"]["port"]) == defaults.clickhouse.port


def test_compose_runs_grafana_only_with_its_profile_and_mounts_the_provisioning() -> None:
    grafana = _compose()["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"]
    assert grafana["image"].startswith("grafana/grafana-oss:")
    assert PLUGIN in grafana["environment"]["GF_INSTALL_PLUGINS"].split(",")
    mounts = {m.split(":")[0]: m.split(":")[1] for m in grafana["volumes"]}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(PROVIDER.read_text())
    assert provider["apiVersion"] == 1
    [files] = provider["providers"]
    assert files["type"] == "file"
    assert mounts["./grafana/dashboards"] == files["options"]["path"]
    assert (DEPLOY / "grafana" / "dashboards").is_dir()


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _grafana_expand(text: str, env: Mapping[str, str]) -> str:
    """Grafana's provisioning interpolation ($VAR, ${VAR}); a variable not set is an error
    here (Grafana would put an empty string)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"{name} is used by {DATASOURCE.name} but compose does not set it"
        return env[name]

    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, body)


# -- the queries on the real server, as the dashboard user --------------------------------------


def _run(settings: Settings, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    rows, types = settings.dashboard.client().execute(sql, with_column_types=True)
    return [name for name, _ in types], rows


def test_every_query_runs_as_the_dashboard_user_and_agrees_with_totals(
    shared_live: SharedCampaign,
) -> None:
    settings, expected = shared_live.settings, shared_live.expected
    days = sorted(date.fromisoformat(r["day"]) for r in expected["daily_by_org"])
    start, end = _day_range(days[0], days[-1])
    queries = dashboard_queries(load_dashboard())

    columns, rows = _run(settings, "SELECT * FROM totals")
    totals = dict(zip(columns, rows[0], strict=True))
    assert totals == expected["totals"]  # the simulator's own count: the figures are right

    [variable] = [q for q in queries if q.kind == "variable"]
    _, rows = _run(settings, expand(variable.sql, start, end, []))
    orgs = [r[0] for r in rows]
    assert orgs == sorted({r["org_id"] for r in expected["daily_by_org"]})

    seen: set[str] = set()
    for query in queries:
        if query.kind == "variable":
            continue
        # "All" selected: Grafana sends every value of the variable.
        names, rows = _run(settings, expand(query.sql, start, end, orgs))
        assert rows, f"{query.where}: no rows over the whole campaign"
        if query.kind == "stat":
            [[value]] = rows
            [name] = names
            seen.add(name)
            if name == "donations_yuan":
                assert value == totals["donations_fen"] / 100, query.where
            else:
                assert value == totals[name], query.where
            continue
        for i, name in enumerate(names):
            if name in ADDITIVE:
                assert sum(r[i] for r in rows) == totals[name], f"{query.where}: {name}"
            if name == "donations_yuan":
                got = sum(r[i] for r in rows)
                assert got == pytest.approx(totals["donations_fen"] / 100), query.where

        # One org selected: only its rows.
        one = orgs[-1]
        names, rows = _run(settings, expand(query.sql, start, end, [one]))
        assert rows, f"{query.where}: no rows for {one}"
        if "org_id" in names:
            assert {r[names.index("org_id")] for r in rows} == {one}, query.where

        # A one-day range: only that day.
        if "time" in names:
            day = days[len(days) // 2]
            names, rows = _run(settings, expand(query.sql, *_day_range(day, day), orgs))
            assert rows, f"{query.where}: nothing on {day}"
            assert {r[names.index("time")].date() for r in rows} == {day}, query.where
    assert seen == HEADLINES


def test_expand_mirrors_the_plugin_macros() -> None:
    start = datetime(2022, 3, 14, tzinfo=UTC)
    end = start + timedelta(days=2)
    sql = "SELECT day FROM daily_by_org WHERE $__dateFilter(day) AND org_id IN (${org:singlequote})"
    assert expand(sql, start, end, ["org-1", "o'2"]) == (
        "SELECT day FROM daily_by_org WHERE day >= toDate('2022-03-14') AND "
        "day <= toDate('2022-03-16') AND org_id IN ('org-1','o\\'2')"
    )
    assert expand("$__fromTime $__toTime", start, end, []) == (
        f"toDateTime({int(start.timestamp())}) toDateTime({int(end.timestamp())})"
    )
