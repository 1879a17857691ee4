// The dashboard page: polls /state once a second and keeps the fleet view, one row per node (state,
// last seen, battery, next connection, missed wakes, errors, firmware version and update, a
// sparkline per channel), sorted by a column (the troubled nodes first by default) and filtered by
// name or state. A click on a row
// opens that node's charts: one uPlot chart per channel from /node, on the times the node stamped
// its readings with. Each poll touches only what changed, and redraws only the sparklines in view,
// so a thousand rows stay cheap (bench/dashboard.ts). Plain browser JavaScript, no build.
"use strict";

/** "<node> <channel>" → its uPlot chart, for the open node; read by the dashboard tests. */
window.torporCharts = new Map();

const tbody = document.querySelector("#fleet tbody");
const filterEl = document.getElementById("filter");
const time = (s) => new Date(s * 1000).toISOString().slice(11, 19) + "Z";
const collator = new Intl.Collator(undefined, { numeric: true });

/** node name → { tr, cells, node (its newest row data), sparks (signature of what each shows) } */
const rows = new Map();
let sort = { key: "trouble", descending: true };
let order = [];
let open = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function age(s) {
  if (s === null) return "—";
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function set(cell, text) {
  if (cell.textContent !== text) cell.textContent = text;
}

const SVG = "http://www.w3.org/2000/svg";

function sparkPoints(values) {
  // One reading: a level line, so that the channel shows at all.
  if (values.length === 1) return "0,9 90,9";
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi - lo || 1;
  const dx = values.length > 1 ? 90 / (values.length - 1) : 0;
  return values.map((v, i) => `${(i * dx).toFixed(1)},${(17 - ((v - lo) / span) * 16).toFixed(1)}`).join(" ");
}

/** The rows on screen (or nearly): only theirs get their sparklines redrawn; a row scrolled to
 *  draws its own when it comes into view. Redrawing a thousand rows' would cost most of a poll. */
const visible = new Set();
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const r = rows.get(entry.target.dataset.node);
    if (!entry.isIntersecting) visible.delete(r);
    else {
      visible.add(r);
      drawSparks(r);
    }
  }
}, { rootMargin: "300px" });

function drawSparks(r) {
  const channels = r.cells.at(-1);
  r.node.spark.forEach((channel, i) => {
    const values = channel.values;
    const signature = `${values.length} ${values[0]} ${values[values.length - 1]}`;
    if (r.sparks[i] === signature) return;
    r.sparks[i] = signature;
    let svg = channels.children[i];
    if (!svg) {
      svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "spark");
      svg.setAttribute("viewBox", "0 0 90 18");
      svg.append(document.createElementNS(SVG, "title"), document.createElementNS(SVG, "polyline"));
      channels.append(svg);
    }
    const last = values[values.length - 1];
    svg.firstChild.textContent = `${channel.name}: ${last}${channel.unit && channel.unit !== "/" ? ` ${channel.unit}` : ""}`;
    svg.lastChild.setAttribute("points", sparkPoints(values));
  });
}

function row(node) {
  let r = rows.get(node.node);
  if (!r) {
    const cells = ["node", "state", "seen", "battery", "next", "missed", "errors", "version", "update", "channels"].map((k) => el("td", { class: ["battery", "missed", "errors"].includes(k) ? "num" : "" }));
    cells[1].append(el("span", { class: "badge" }));
    const tr = el("tr", { "data-node": node.node }, ...cells);
    tr.addEventListener("click", () => openNode(node.node));
    r = { tr, cells, node, sparks: [] };
    rows.set(node.node, r);
    observer.observe(tr);
  }
  r.node = node;
  const [name, state, seen, battery, next, missed, errors, version, update] = r.cells;
  set(name, node.node);
  const badge = state.firstChild;
  set(badge, node.health);
  if (badge.className !== `badge ${node.health}`) badge.className = `badge ${node.health}`;
  set(seen, age(node.seen));
  set(battery, node.battery === null ? "—" : `${node.battery.toFixed(2)} V`);
  set(next, node.next === null ? "—" : time(node.next));
  set(missed, String(node.missed));
  set(errors, String(node.errors));
  set(version, node.version ?? "—");
  set(update, node.update ?? "—");
  missed.classList.toggle("bad", node.missed > 0);
  errors.classList.toggle("bad", node.errors > 0);
  if (visible.has(r)) drawSparks(r);
  return r;
}

const keys = {
  node: () => 0,
  trouble: (n) => n.trouble,
  seen: (n) => (n.seen === null ? Infinity : n.seen),
  battery: (n) => (n.battery === null ? -Infinity : n.battery),
  next: (n) => (n.next === null ? Infinity : n.next),
  missed: (n) => n.missed,
  errors: (n) => n.errors,
};

function compare(a, b) {
  const key = keys[sort.key];
  const d = (key(a.node) - key(b.node)) * (sort.descending ? -1 : 1);
  return d || collator.compare(a.node.node, b.node.node) * (sort.key === "node" && sort.descending ? -1 : 1);
}

function matches(r, words) {
  return words.every((w) => r.node.node.toLowerCase().includes(w) || r.node.health === w);
}

/** Puts the rows in order, filtered; moves DOM nodes only when the order changed. */
function arrange() {
  const words = filterEl.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const shown = [...rows.values()].filter((r) => matches(r, words)).sort(compare);
  if (shown.length !== order.length || shown.some((r, i) => r !== order[i])) {
    tbody.replaceChildren(...shown.map((r) => r.tr));
    order = shown;
  }
  const troubled = [...rows.values()].filter((r) => r.node.trouble > 0).length;
  set(document.getElementById("counts"), `${rows.size} nodes, ${troubled} troubled${shown.length !== rows.size ? `, ${shown.length} shown` : ""}`);
}

/** Applies one /state: the whole page's update (the benchmark times it). */
function update(state) {
  set(document.getElementById("clock"), time(state.now));
  document.getElementById("empty").hidden = state.nodes.length > 0;
  document.getElementById("fleet").hidden = state.nodes.length === 0;
  for (const node of state.nodes) row(node);
  arrange();
}

async function drawDetail() {
  if (open === null) return;
  const name = open;
  let history;
  try {
    const response = await fetch(`/node?name=${encodeURIComponent(name)}`, { cache: "no-store" });
    if (!response.ok) return;
    history = await response.json();
  } catch {
    return;
  }
  if (open !== name) return;
  const r = rows.get(name);
  const s = history.status || {};
  const facts = [];
  if (r && r.node.next !== null) facts.push(`next connection ${time(r.node.next)}`);
  if (typeof s.buffered === "number") facts.push(`buffered ${s.buffered}`);
  if (typeof s.dropped === "number" && s.dropped) facts.push(`dropped ${s.dropped}`);
  set(document.getElementById("detail-facts"), facts.join(" · "));
  const container = document.getElementById("detail-charts");
  for (const channel of history.channels) {
    const key = `${name} ${channel.name}`;
    const data = [channel.times, channel.values];
    let chart = window.torporCharts.get(key);
    if (chart) {
      chart.setData(data);
      continue;
    }
    const holder = el("div", { class: "chart", "data-channel": channel.name }, el("h3", {}, `${channel.name}${channel.unit && channel.unit !== "/" ? ` (${channel.unit})` : ""}`));
    container.append(holder);
    chart = new uPlot({
      width: 420,
      height: 170,
      legend: { show: false },
      scales: { x: { time: true } },
      series: [{}, { label: channel.name, stroke: "#1565c0", width: 1.5, points: { show: channel.times.length < 120 } }],
      axes: [{}, { size: 70 }],
    }, data, holder);
    window.torporCharts.set(key, chart);
  }
}

function closeNode() {
  for (const chart of window.torporCharts.values()) chart.destroy();
  window.torporCharts.clear();
  document.getElementById("detail-charts").replaceChildren();
  document.getElementById("detail").hidden = true;
  if (open !== null && rows.has(open)) rows.get(open).tr.classList.remove("open");
  open = null;
}

function openNode(name) {
  closeNode();
  open = name;
  rows.get(name).tr.classList.add("open");
  set(document.getElementById("detail-name"), name);
  document.getElementById("detail").hidden = false;
  drawDetail();
}

document.getElementById("detail-close").addEventListener("click", closeNode);
filterEl.addEventListener("input", arrange);
for (const th of document.querySelectorAll("th[data-sort]")) {
  th.addEventListener("click", () => {
    const key = th.dataset.sort;
    // A column's first click puts its worst (or, for names, first) on top.
    sort = sort.key === key ? { key, descending: !sort.descending } : { key, descending: !["node", "battery", "next"].includes(key) };
    for (const other of document.querySelectorAll("th[data-sort]")) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
    arrange();
  });
}

async function refresh() {
  let state;
  try {
    state = await (await fetch("/state", { cache: "no-store" })).json();
  } catch {
    return;
  }
  update(state);
  drawDetail();
}

/** For the benchmark: the page's update, given a /state it fetched. */
window.torporUpdate = update;

refresh();
setInterval(refresh, 1000);
