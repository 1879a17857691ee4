// Starts a real mosquitto (Debian's package) on a free loopback port with a test-owned config, for
// integration tests. Tests call `mosquittoMissing()` first and skip with its message when it is absent.

import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface Mosquitto {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) => fs.existsSync(p));

export function mosquittoMissing(): string | undefined {
  return binary ? undefined : "mosquitto is not installed (apt-get install mosquitto; .ci/run does this)";
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startMosquitto(extraConfig: string[] = []): Promise<Mosquitto> {
  if (!binary) throw new Error(mosquittoMissing());
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-mosquitto-"));
  const conf = path.join(dir, "mosquitto.conf");
  fs.writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", ...extraConfig, ""].join("\n"));
  const child: ChildProcess = spawn(binary, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, child, () => stderr);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}: ${stderr()}`);
}

