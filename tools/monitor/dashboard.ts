// The dashboard's web server (`npm run monitor -- --web`): on 127.0.0.1 only, it serves the page
// (index.html and app.js, in the folder page/ beside this file), uPlot from node_modules (no CDN:
// the dashboard works with no internet), and the fleet as JSON at /state, which the page polls.
// Nothing it serves comes from a request: there are five fixed paths and nothing else.

import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { health, nextExpected, type FleetState } from "./state";

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

/** The fleet as the page draws it, at `nowS`. */
export function snapshot(fleet: FleetState, nowS: number): unknown {
  return {
    now: nowS,
    nodes: [...fleet.nodes.values()]
      .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }))
      .map((node) => ({
        node: node.node,
        health: health(node, nowS),
        next: nextExpected(node, nowS) ?? null,
        status: node.status ?? null,
        missed: node.missed,
        duplicates: node.duplicates,
        channels: [...node.channels.entries()].map(([name, c]) => ({ name, unit: c.unit ?? "", times: c.times, values: c.values })),
      })),
  };
}

export async function serveDashboard(fleet: FleetState, port: number, now = () => Date.now() / 1000): Promise<Dashboard> {
  const server = http.createServer((request, response) => {
    const url = (request.url ?? "/").split("?")[0]!;
    if (request.method !== "GET") return void response.writeHead(405).end();
    if (url === "/state") {
      response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      return void response.end(JSON.stringify(snapshot(fleet, now())));
    }
    const entry = files[url];
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
