// Drives @agoric/xsnap's built xsnap-worker (Moddable XS 13) directly, without its JS API: that API
// needs @endo/init, which would lock down the whole Node test process. Protocol, per
// xsnap-worker.c: netstrings `len:bytes,` on fd 3 (to worker) and fd 4 (from worker). We send
// `e<script>` (indirect eval), `?<bytes>` (globalThis.handleCommand(ArrayBuffer)) and `q` (quit);
// it answers `.<meter JSON>\x01<reply>` or `!<String(exception)>`, and mid-command
// it may send `?<bytes>` (the issueCommand global), which blocks it until we answer `/<bytes>`.
import { ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { decodeJson, encodeJson } from "./json";
import { repoRoot } from "./bundle";

/** What the worker reports after each `e` or `?` command (fxWriteOkay in xsnap-worker.c). */
export interface Meter {
  /** XS meter index for this command alone: ~bytecodes run. Deterministic, so benchmark on it. */
  readonly compute: number;
  /** Heap slots in use when the command ended, garbage not yet collected included. */
  readonly currentHeapCount: number;
  /** Bytes of chunk + slot memory the machine holds from the OS (grows, never shrinks). */
  readonly allocate: number;
  /** Wall-clock seconds at receipt, around each issueCommand, and at reply. Not deterministic. */
  readonly timestamps: readonly number[];
}

export interface XsWorkerOptions {
  /** Worker binary; default: findXsnapWorker(). */
  bin?: string;
  /** Compute per command beyond which the worker exits ("too much computation"); 0 = none. */
  meteringLimit?: number;
  /** Per command; on expiry the worker is killed and the command rejects. */
  timeoutMs?: number;
  /** Each line the XS `print` global writes; without it the worker's stdout is discarded. */
  onPrint?: (line: string) => void;
  /** Answers the XS `issueCommand` global; default echoes, as @agoric/xsnap does. */
  onIssueCommand?: (request: Uint8Array) => Uint8Array;
}

/** An exception thrown inside XS; `message` is its String(), e.g. "TypeError: x is not a function". */
export class XsError extends Error {
  override name = "XsError";
}

// Exit codes from xsnap-worker.c / api.js.
const EXIT_REASONS: Record<number, string> = {
  0: "unasked", 1: "bad usage", 2: "I/O error", 11: "not enough memory", 12: "stack overflow",
  15: "unhandled exception", 16: "property (key) name space exhausted", 17: "too much computation",
};

/** The built worker: $XSNAP_WORKER if set (a missing path means "none"), else release, else debug. */
export function findXsnapWorker(): string | undefined {
  const override = process.env["XSNAP_WORKER"];
  if (override !== undefined) return existsSync(override) ? override : undefined;
  if (process.platform !== "linux" && process.platform !== "darwin") return undefined;
  const dir = join(repoRoot, "node_modules/@agoric/xsnap/xsnap-native/xsnap/build/bin");
  const os = process.platform === "linux" ? "lin" : "mac";
  return ["release", "debug"].map((b) => join(dir, os, b, "xsnap-worker")).find((p) => existsSync(p));
}

// Last line of defence for a test that forgets close(): the process never outlives Node.
const live = new Set<ChildProcess>();
process.once("exit", () => live.forEach((child) => child.kill("SIGKILL")));

type Reply = { meter: Meter; body: Uint8Array };
type Pending = { resolve(reply: Reply): void; reject(error: Error): void };

export class XsWorker {
  private inbox = Buffer.alloc(0);
  private pending: Pending | undefined;
  private baton: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private stderrTail = "";
  private readonly exited: Promise<void>;
  private readonly toWorker: Writable | undefined;

  private constructor(private readonly child: ChildProcess, private readonly options: XsWorkerOptions) {
    live.add(child);
    this.exited = new Promise((resolve) => {
      const done = (why: string): void => {
        live.delete(child);
        this.failure ??= new Error(`xsnap-worker ${why}${this.stderrTail && `: ${this.stderrTail.trim()}`}`);
        this.pending?.reject(this.failure);
        resolve();
      };
      child.once("error", (e) => done(`failed: ${e.message}`));
      // "close", not "exit": it comes after fd 4 is drained, so a last reply is never cut off.
      child.once("close", (code, signal) =>
        done(signal ? `killed by ${signal}` : `exited with code ${code} (${EXIT_REASONS[code ?? -1] ?? "?"})`));
    });
    this.hold(false);
    const toWorker = child.stdio[3];
    this.toWorker = toWorker instanceof Writable ? toWorker : undefined;
    this.toWorker?.on("error", () => {}); // EPIPE after a crash; the "close" handler reports it
    child.stdio[4]?.on("data", (chunk: Buffer) => this.receive(chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    let partial = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      lines.forEach((line) => options.onPrint?.(line));
    });
  }

  static async start(options: XsWorkerOptions = {}): Promise<XsWorker> {
    const bin = options.bin ?? findXsnapWorker();
    if (bin === undefined) throw new Error("xsnap-worker is not built (node_modules/@agoric/xsnap)");
    const limit = options.meteringLimit ?? 1e8;
    const child = spawn(bin, ["torpor", ...(limit > 0 ? ["-l", String(limit)] : [])], {
      // fd 5 and 6 are xsbug and the profiler in instrumented (debug) builds.
      stdio: ["ignore", options.onPrint ? "pipe" : "ignore", "pipe", "pipe", "pipe", "ignore", "ignore"],
    });
    const worker = new XsWorker(child, options);
    try {
      await worker.evaluate(""); // fails fast on a broken binary
    } catch (e) {
      await worker.close();
      throw e;
    }
    return worker;
  }

  // An idle worker must not keep Node alive (the "exit" hook kills it), but one that owes us a reply
  // must, until its "close" event: unref'd pipes may otherwise never deliver it.
  private hold(on: boolean): void {
    for (const handle of [this.child, ...this.child.stdio]) {
      if (handle instanceof Socket || handle instanceof ChildProcess) on ? handle.ref() : handle.unref();
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Evaluates a script (e.g. a bundle()) at global scope; an exception rejects with XsError. */
  async evaluate(code: string): Promise<Meter> {
    return (await this.exchange("e", Buffer.from(code))).meter;
  }

  /** Calls globalThis.handleCommand(ArrayBuffer); `reply` is empty unless it returned an ArrayBuffer. */
  async command(bytes: Uint8Array): Promise<{ reply: Uint8Array; meter: Meter }> {
    const { body, meter } = await this.exchange("?", bytes);
    return { reply: body, meter };
  }

  /** command() through a handler installed by serveJson (`serveJson`). */
  async call(input: unknown): Promise<{ result: unknown; meter: Meter }> {
    const { reply, meter } = await this.command(encodeJson(input));
    if (reply.length === 0) {
      throw new Error("handleCommand gave no reply: not installed by serveJson, or awaiting a timer XS lacks");
    }
    const envelope = decodeJson(reply);
    if (typeof envelope !== "object" || envelope === null) throw new Error("malformed reply from serveJson");
    if ("error" in envelope) throw new XsError(String(envelope.error));
    return { result: "ok" in envelope ? envelope.ok : undefined, meter };
  }

  /**
   * Lets commands already issued finish (each bounded by timeoutMs), then quits the worker, with
   * SIGKILL if it will not, and resolves once the process is gone. Later commands reject.
   */
  close(): Promise<void> {
    const quit = this.baton.then(async () => {
      this.failure ??= new Error("xsnap-worker closed");
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.send(Buffer.from("q"));
        this.toWorker?.end();
        this.hold(true);
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
        await this.exited;
        clearTimeout(timer);
      }
    });
    this.baton = quit;
    return quit;
  }

  // One command at a time: replies carry no id, and a `?` from the worker belongs to the current one.
  private exchange(op: string, payload: Uint8Array): Promise<Reply> {
    const run = (): Promise<Reply> =>
      new Promise((resolve, reject) => {
        if (this.failure) return reject(this.failure);
        const ms = this.options.timeoutMs ?? 30_000;
        const timer = setTimeout(() => {
          this.failure ??= new Error(`xsnap-worker gave no reply within ${ms} ms; killed`);
          this.child.kill("SIGKILL");
        }, ms);
        const settle = (): void => {
          clearTimeout(timer);
          this.pending = undefined;
          this.hold(false);
        };
        this.pending = {
          resolve: (reply) => (settle(), resolve(reply)),
          reject: (error) => (settle(), reject(error)),
        };
        this.hold(true);
        this.send(Buffer.concat([Buffer.from(op), payload]));
      });
    const result = this.baton.then(run);
    this.baton = result.catch(() => {});
    return result;
  }

  private send(message: Uint8Array): void {
    this.toWorker?.write(Buffer.concat([Buffer.from(`${message.length}:`), message, Buffer.from(",")]));
  }

  private receive(chunk: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, chunk]);
    for (;;) {
      const colon = this.inbox.indexOf(":");
      if (colon < 0) return;
      const length = Number(this.inbox.subarray(0, colon).toString("latin1"));
      if (!Number.isInteger(length)) return this.abort("bad netstring length");
      const end = colon + 1 + length;
      if (this.inbox.length <= end) return;
      if (this.inbox[end] !== 0x2c) return this.abort("netstring without ','");
      const message = this.inbox.subarray(colon + 1, end);
      this.inbox = this.inbox.subarray(end + 1);
      this.dispatch(message);
    }
  }

  private dispatch(message: Buffer): void {
    const kind = String.fromCharCode(message[0] ?? 0);
    const body = message.subarray(1);
    if (kind === "?") {
      try {
        const answer = (this.options.onIssueCommand ?? ((b: Uint8Array) => b))(new Uint8Array(body));
        return this.send(Buffer.concat([Buffer.from("/"), answer]));
      } catch (e) {
        return this.abort(`onIssueCommand threw ${String(e)}`); // the worker is blocked on our answer
      }
    }
    if (!this.pending) return this.abort(`unsolicited '${kind}' message`);
    if (kind === "!") return this.pending.reject(new XsError(body.toString("utf8")));
    if (kind !== ".") return this.abort(`unknown '${kind}' message`);
    const sep = body.indexOf(1);
    const meter = sep < 0 ? undefined : parseMeter(body.subarray(0, sep).toString("utf8"));
    if (!meter) return this.abort(`reply without a meter: ${body.toString("utf8", 0, 200)}`);
    this.pending.resolve({ meter, body: new Uint8Array(body.subarray(sep + 1)) });
  }

  private abort(why: string): void {
    this.failure ??= new Error(`xsnap protocol error: ${why}`);
    this.child.kill("SIGKILL");
  }
}

function parseMeter(text: string): Meter | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m === "object" && m !== null && "compute" in m && "currentHeapCount" in m && "allocate" in m) {
    const { compute, currentHeapCount, allocate } = m;
    const stamps: unknown[] = "timestamps" in m && Array.isArray(m.timestamps) ? m.timestamps : [];
    if (typeof compute === "number" && typeof currentHeapCount === "number" && typeof allocate === "number") {
      const timestamps = stamps.filter((t): t is number => typeof t === "number");
      return { compute, currentHeapCount, allocate, timestamps };
    }
  }
  return undefined;
}

/** Runs one JSON command against a fresh worker that has evaluated `bundle`, then closes it. */
export async function runOnXS(
  bundle: string,
  input: unknown,
  options?: XsWorkerOptions,
): Promise<{ result: unknown; meter: Meter }> {
  const worker = await XsWorker.start(options);
  try {
    await worker.evaluate(bundle);
    return await worker.call(input);
  } finally {
    await worker.close();
  }
}
