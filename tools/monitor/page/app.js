// The dashboard page: polls /state once a second and draws one uPlot chart per node and channel,
// on the times the node stamped its readings with (a batch of past readings fills in its own
// stretch of the chart), with a badge for each node's state. Plain browser JavaScript, no build.
"use strict";

/** "<node> <channel>" → its uPlot chart; read by test/dashboard.test.ts. */
window.torporCharts = new Map();

const nodesEl = document.getElementById("nodes");
const time = (s) => new Date(s * 1000).toISOString().slice(11, 19) + "Z";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function nodeSection(node) {
  let section = nodesEl.querySelector(`section[data-node="${CSS.escape(node.node)}"]`);
  if (!section) {
    section = el("section", { class: "node", "data-node": node.node },
      el("header", {}, el("h2", {}, node.node), el("span", { class: "badge" }), el("span", { class: "facts" })),
      el("div", { class: "charts" }));
    nodesEl.append(section);
  }
  return section;
}

function facts(node) {
  const s = node.status || {};
  const parts = [];
  const battery = node.channels.find((c) => c.unit === "V");
  if (battery && battery.values.length) parts.push(`battery ${battery.values[battery.values.length - 1].toFixed(2)} V`);
  if (node.next) parts.push(`next wake ${node.next.estimated ? "~" : ""}${time(node.next.time)}`);
  if (typeof s.buffered === "number") parts.push(`buffered ${s.buffered}`);
  if (typeof s.dropped === "number" && s.dropped) parts.push(`dropped ${s.dropped}`);
  if (node.missed) parts.push(`missed ${node.missed}`);
  return parts.join(" · ");
}

function draw(node, channel, container) {
  const key = `${node.node} ${channel.name}`;
  const data = [channel.times, channel.values];
  let chart = window.torporCharts.get(key);
  if (chart) return chart.setData(data);
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

async function refresh() {
  let state;
  try {
    state = await (await fetch("/state", { cache: "no-store" })).json();
  } catch {
    return;
  }
  document.getElementById("clock").textContent = time(state.now);
  document.getElementById("empty").hidden = state.nodes.length > 0;
  for (const node of state.nodes) {
    const section = nodeSection(node);
    const badge = section.querySelector(".badge");
    badge.textContent = node.health;
    badge.className = `badge ${node.health}`;
    section.querySelector(".facts").textContent = facts(node);
    const charts = section.querySelector(".charts");
    for (const channel of node.channels) draw(node, channel, charts);
  }
}

refresh();
setInterval(refresh, 1000);
