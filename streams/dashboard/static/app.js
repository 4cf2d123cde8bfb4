// The dashboard page: polls the JSON API (same origin) and shows every figure as text; the
// chart only repeats the daily table. No framework and nothing from the internet.
"use strict";

const POLL_MS = 5000;
const LANGS = { zh: "zh-CN", en: "en" };
// Columns that add up over days and organisations. Distinct counts (teams, volunteers) are
// shown only where the API gives them exact: per org and day.
const DAILY = ["checkins", "service_hours", "calls", "calls_reached", "sampling_assists",
  "disinfected_m2", "donations_fen"];
const MEMBER = ["events", "calls", "sampling_assists", "disinfected_m2", "floors", "donations_fen"];

const page = {
  labels: null,
  labelsReady: null,
  lang: "zh",
  data: {},
  orgs: new Set(),
  sort: {},
  chartKey: "",
  chart: null,
  timer: null,
  // Refreshes asked for so far: only the newest one's answer is shown.
  loads: 0,
};

const $ = (selector) => document.querySelector(selector);

function label(key) {
  const table = page.labels[page.lang];
  return table[key] ?? page.labels.en[key] ?? key;
}

// A formatter is slow to make (a page has thousands of cells): one per language and digits.
const formats = new Map();
function number(value, digits = 0) {
  const key = `${page.lang}/${digits}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat(LANGS[page.lang], {
      minimumFractionDigits: digits, maximumFractionDigits: Math.max(digits, 2),
    }));
  }
  return formats.get(key).format(value);
}

// Fen to yuan without floating point: integer yuan, then the two fen digits.
function yuan(fen) {
  const whole = Math.trunc(fen / 100);
  const cents = String(Math.abs(fen % 100)).padStart(2, "0");
  return `${number(whole)}.${cents}`;
}

function shown(column, value) {
  if (value === null || value === undefined) return "";
  if (column === "donations_fen") return yuan(value);
  if (column === "outcome") return label(`outcome_${value}`);
  if (typeof value === "number") return number(value);
  return String(value);
}

function asOfText(iso) {
  if (!iso || iso.startsWith("1970-")) return label("no_checkpoint");
  return new Date(iso).toLocaleString(LANGS[page.lang], { timeZone: "Asia/Shanghai", hour12: false })
    + " (UTC+8)";
}

function params() {
  const query = new URLSearchParams();
  for (const name of ["org", "from", "to"]) {
    const value = $(`#${name}`).value;
    if (value) query.set(name, value);
  }
  return query;
}

async function api(name, query) {
  const response = await fetch(`/api/${name}?${query}`, { cache: "no-cache" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return { rows: body, asOf: response.headers.get("X-Frontline-As-Of") };
}

async function load(chosen) {
  const org = chosen.get("org");
  const range = new URLSearchParams(chosen);
  range.delete("org"); // the org table and the org list show every org of the dates
  const anyDay = new URLSearchParams();
  if (org) anyDay.set("org", org);
  const [totals, days, orgs, teams, sites, open, outcomes] = await Promise.all([
    api("totals", new URLSearchParams()),
    // One org: its days with its distinct teams and volunteers; all: the days' sums.
    api(org ? "daily_by_org" : "daily", chosen),
    api("orgs", range),
    api("by_team", chosen),
    api("by_site", chosen),
    api("open_shifts", anyDay), // open now, whatever day it began
    api("call_outcomes", chosen),
  ]);
  return { totals, days, orgs, teams, sites, open, outcomes, org };
}

function applyLabels() {
  document.documentElement.lang = LANGS[page.lang];
  document.title = label("title");
  for (const node of document.querySelectorAll("[data-label]")) node.textContent = label(node.dataset.label);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === page.lang));
  }
}

function setFigure(scope, name, value, asOf) {
  const box = scope.querySelector(`[data-figure="${name}"]`);
  const target = box.querySelector("dd") ?? box;
  target.textContent = shown(name, value);
  box.dataset.value = String(value);
  if (asOf !== undefined && box.querySelector("dd")) {
    let stamp = box.querySelector(".as-of");
    if (!stamp) {
      stamp = document.createElement("p");
      stamp.className = "as-of note";
      box.append(stamp);
    }
    stamp.textContent = `${label("as_of")} ${asOfText(asOf)}`;
  }
}

function renderHeadline() {
  const { rows, asOf } = page.data.totals;
  const row = rows[0] ?? {};
  const headline = $("#headline");
  for (const name of ["orgs", "checkins", "volunteers", "teams", "service_hours", "calls",
    "sampling_assists", "disinfected_m2", "donations_fen"]) {
    setFigure(headline, name, row[name] ?? 0, asOf);
  }
  setFigure(headline, "calls_reached", row.calls_reached ?? 0);
  const stamp = $("#as-of");
  stamp.textContent = asOfText(asOf);
  stamp.dateTime = asOf ?? "";
  stamp.dataset.asOf = asOf ?? "";
}

function total(rows, column) {
  return rows.reduce((into, row) => into + row[column], 0);
}

function renderTable(id, columns, rows, defaultSort) {
  const table = document.getElementById(id);
  const sort = page.sort[id] ?? defaultSort;
  const sorted = [...rows].sort((a, b) => {
    const x = a[sort.column];
    const y = b[sort.column];
    const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return sort.descending ? -order : order;
  });
  const head = columns.map((c) => {
    const numeric = rows.length > 0 && typeof rows[0][c] === "number";
    const state = c === sort.column ? (sort.descending ? "descending" : "ascending") : "none";
    const name = c === "donations_fen" ? "donations" : c;
    return `<th scope="col" class="${numeric ? "num" : ""}" aria-sort="${state}">`
      + `<button type="button" data-column="${c}">${escape(label(name))}</button></th>`;
  }).join("");
  const body = sorted.length === 0
    ? `<tr><td colspan="${columns.length}">${escape(label("no_rows"))}</td></tr>`
    : sorted.map((row) => "<tr>" + columns.map((c) => {
      const numeric = typeof row[c] === "number";
      return `<td class="${numeric ? "num" : ""}" data-column="${c}">${escape(shown(c, row[c]))}</td>`;
    }).join("") + "</tr>").join("");
  table.innerHTML = `<thead><tr>${head}</tr></thead><tbody>${body}</tbody>`;
  for (const button of table.querySelectorAll("th button")) {
    button.addEventListener("click", () => {
      const column = button.dataset.column;
      const descending = sort.column === column ? !sort.descending : typeof rows[0]?.[column] === "number";
      page.sort[id] = { column, descending };
      renderTable(id, columns, rows, defaultSort);
    });
  }
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderDaily() {
  const { days, orgs, org } = page.data;
  const columns = org ? ["teams", "volunteers", ...DAILY] : DAILY;
  renderTable("daily", ["day", ...columns], days.rows, { column: "day", descending: false });
  renderChart(days.rows);

  const byOrg = orgs.rows.filter((r) => !org || r.org_id === org);
  renderTable("by-org", ["org_id", ...DAILY], byOrg, { column: "sampling_assists", descending: true });

  const open = $("#open-title").closest("section");
  setFigure(open, "open_shifts", total(days.rows, "open_shifts"));
  setFigure(open, "unclosed_shifts", total(days.rows, "unclosed_shifts"));
}

function renderChart(days) {
  const holder = $("#daily-chart");
  const ordered = [...days].sort((a, b) => a.day.localeCompare(b.day));
  const key = JSON.stringify([page.lang, holder.clientWidth, ordered]);
  if (key === page.chartKey || typeof uPlot === "undefined") return;
  page.chartKey = key;
  if (page.chart) page.chart.destroy();
  const x = ordered.map((r) => Date.parse(`${r.day}T00:00:00+08:00`) / 1000);
  const data = [x, ordered.map((r) => r.sampling_assists), ordered.map((r) => r.checkins),
    ordered.map((r) => r.calls)];
  page.chart = new uPlot({
    width: Math.max(holder.clientWidth, 280),
    height: 300,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Shanghai"),
    scales: { people: {}, acts: {} },
    series: [
      { label: label("day") },
      { label: label("sampling_assists"), scale: "people", stroke: "#b3261e", width: 2 },
      { label: label("checkins"), scale: "acts", stroke: "#1d5fa8", width: 2 },
      { label: label("calls"), scale: "acts", stroke: "#2e7d32", width: 2 },
    ],
    axes: [{}, { scale: "people", size: 80 }, { scale: "acts", side: 1, size: 60, grid: { show: false } }],
  }, data, holder);
}

function renderRest() {
  const member = (id, rows, kind) =>
    renderTable(id, ["org_id", `${kind}_id`, ...MEMBER], rows, { column: "events", descending: true });
  member("by-team", page.data.teams.rows, "team");
  member("by-site", page.data.sites.rows, "site");
  renderTable("open-shifts", ["shift_id", "org_id", "team_id", "site_id", "volunteer_id",
    "checked_in_at", "open_hours"], page.data.open.rows.slice(0, 50),
  { column: "open_hours", descending: true });
  renderTable("outcomes", ["outcome", "calls", "call_minutes"], page.data.outcomes.rows,
    { column: "calls", descending: true });
}

function renderOrgs() {
  for (const row of page.data.orgs?.rows ?? []) page.orgs.add(row.org_id);
  const select = $("#org");
  const have = new Set([...select.options].map((o) => o.value));
  for (const org of [...page.orgs].sort()) {
    if (!have.has(org)) select.add(new Option(org, org));
  }
}

function render() {
  applyLabels();
  if (!page.data.totals) return;
  renderOrgs();
  renderHeadline();
  renderDaily();
  renderRest();
  document.body.dataset.loaded = "true";
  document.body.dataset.loadedAfterMs ??= String(Math.round(performance.now()));
}

// Answers can arrive out of order (a filter changed twice in a row): an older one arriving
// last must not replace the figures of the newer filter, and only the newest refresh polls on.
async function refresh() {
  clearTimeout(page.timer);
  const seq = ++page.loads;
  const chosen = params();
  try {
    const data = await load(chosen);
    await page.labelsReady;
    document.body.dataset.answered = String(chosen); // shown or dropped: for tests and debugging
    if (seq !== page.loads) return;
    page.data = data;
    $("#status").textContent = "";
    render();
  } catch (err) {
    if (seq === page.loads) $("#status").textContent = `${label("offline")} (${err.message})`;
  } finally {
    if (seq === page.loads) page.timer = setTimeout(refresh, POLL_MS);
  }
}

function remember() {
  const query = params();
  query.set("lang", page.lang);
  history.replaceState(null, "", `?${query}`);
  localStorage.setItem("frontline.lang", page.lang);
}

async function start() {
  page.labelsReady = fetch("/static/labels.json").then((r) => r.json())
    .then((labels) => { page.labels = labels; });
  const url = new URLSearchParams(location.search);
  const wanted = url.get("lang") ?? localStorage.getItem("frontline.lang")
    ?? (navigator.language.startsWith("zh") ? "zh" : "en");
  page.lang = wanted in LANGS ? wanted : "en";
  for (const name of ["from", "to"]) $(`#${name}`).value = url.get(name) ?? "";
  if (url.get("org")) {
    page.orgs.add(url.get("org"));
    renderOrgs();
    $("#org").value = url.get("org");
  }
  // The figures are asked for while the labels load.
  const first = refresh();
  await page.labelsReady;
  applyLabels();
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => {
      page.lang = button.dataset.lang;
      page.chartKey = "";
      remember();
      render();
    });
  }
  $("#controls").addEventListener("change", () => {
    remember();
    refresh();
  });
  window.addEventListener("resize", () => page.data.days && renderChart(page.data.days.rows));
  await first;
}

start();
