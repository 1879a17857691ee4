// The dashboard's web server (`npm run monitor -- --web`): on 127.0.0.1 only, it serves the page
// (index.html and app.js, in the folder page/ beside this file), uPlot from node_modules (no CDN:
// the dashboard works with no internet), the fleet view as JSON at /state, which the page polls
// (a row per node with a short sparkline per channel: a thousand nodes' whole histories would be
// megabytes a second), and one node's whole history at /node?name=<node> for its charts. Nothing
// else it serves comes from a request: the node's name only picks a node the monitor knows.

import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { battery, errorCount, health, lastHeard, nextExpected, trouble, type FleetState, type NodeState } from "./state";

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

/** The page's sources: in the repository, beside this file's TypeScript (dist/ holds only the JS). */
const pageDir = path.resolve(__dirname, "..", "..", "..", "tools", "monitor", "page");
const uplotDir = path.join(path.dirname(require.resolve("uplot/package.json")), "dist");

const files: Record<string, { file: string; type: string }> = {
  "/": { file: path.join(pageDir, "index.html"), type: "text/html; charset=utf-8" },
  "/app.js": { file: path.join(pageDir, "app.js"), type: "text/javascript; charset=utf-8" },
  "/uplot.js": { file: path.join(uplotDir, "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/uplot.css": { file: path.join(uplotDir, "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

/** Points of each channel in a fleet row's sparkline: the newest hour of one-minute samples. */
export const SPARK_POINTS = 60;

/** The fleet view at `nowS`: one row per node, in name order (the page sorts and filters). */
export function snapshot(fleet: FleetState, nowS: number): unknown {
  return {
    now: nowS,
    nodes: [...fleet.nodes.values()]
      .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }))
      .map((node) => {
        const heard = lastHeard(node);
        return {
          node: node.node,
          health: health(node, nowS),
          trouble: trouble(node, nowS),
          seen: heard === undefined ? null : nowS - heard,
          next: nextExpected(node) ?? null,
          battery: battery(node) ?? null,
          missed: node.missed,
          errors: errorCount(node),
          version: node.firmware?.version ?? null,
          update: node.firmware?.update ?? null,
          spark: [...node.channels.entries()].map(([name, c]) => ({ name, unit: c.unit ?? "", values: c.values.slice(-SPARK_POINTS) })),
        };
      }),
  };
}

/** One node's charts: every channel's whole history, on the times the node stamped. */
export function nodeHistory(node: NodeState): unknown {
  return {
    node: node.node,
    status: node.status ?? null,
    channels: [...node.channels.entries()].map(([name, c]) => ({ name, unit: c.unit ?? "", times: c.times, values: c.values })),
  };
}

export async function serveDashboard(fleet: FleetState, port: number, now = () => Date.now() / 1000): Promise<Dashboard> {
  const server = http.createServer((request, response) => {
    if (request.method !== "GET") return void response.writeHead(405).end();
    let url: URL;
    try {
      url = new URL(request.url ?? "/", "http://localhost");
    } catch {
      return void response.writeHead(400, { "content-type": "text/plain" }).end("not a URL\n");
    }
    const json = (body: unknown) => void response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
    if (url.pathname === "/state") return json(snapshot(fleet, now()));
    if (url.pathname === "/node") {
      const node = fleet.nodes.get(url.searchParams.get("name") ?? "");
      if (!node) return void response.writeHead(404, { "content-type": "text/plain" }).end(`no node named ${JSON.stringify(url.searchParams.get("name"))}\n`);
      return json(nodeHistory(node));
    }
    const entry = files[url.pathname];
    if (!entry) return void response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    fs.readFile(entry.file, (e, body) => {
      if (e) return void response.writeHead(500, { "content-type": "text/plain" }).end(`${e.message}\n`);
      response.writeHead(200, { "content-type": entry.type }).end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
