// Starts a real PostgreSQL (Debian's package) for a test: a new cluster in a private temporary
// directory, on a free loopback port, its socket in that directory, trust authentication for the
// `postgres` user. PostgreSQL refuses to run as root, and tests run as root in CI: then the cluster
// belongs to `nobody` and the server runs as that user. Tests call `postgresMissing()` first and
// skip with its message when there is no server to start.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { freePort } from "./mosquitto";

export interface Postgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
}

const binDir = (() => {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "postgres"))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0]!, "bin") : undefined;
})();

export function postgresMissing(): string | undefined {
  return binDir ? undefined : "PostgreSQL is not installed (apt-get install postgresql; .ci/run does this)";
}

/** The user the server runs as: ourselves, or `nobody` when we are root. */
function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { uid: Number(execFileSync("id", ["-u", "nobody"]).toString()), gid: Number(execFileSync("id", ["-g", "nobody"]).toString()) };
}

export async function startPostgres(): Promise<Postgres> {
  if (!binDir) throw new Error(postgresMissing());
  const user = owner();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-pg-"));
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, "data");
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  execFileSync(path.join(binDir, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"], { ...as, stdio: "pipe", cwd: dir });
  const port = await freePort();
  // fsync off: what these tests kill is the collector, never the database server.
  const child: ChildProcess = spawn(path.join(binDir, "postgres"), ["-D", data, "-k", dir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"], { ...as, cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`postgres exited: ${stderr}`);
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      if (i === 200) throw new Error(`postgres did not accept connections on ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        // SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
        child.kill("SIGINT");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
