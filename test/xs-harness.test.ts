// Proves the XS harness (test/support/xsnap.ts) before the core's own XS tests rely on it.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { crc8 } from "./fixtures/xs/crc8";
import { bundle, xsFixture } from "./support/bundle";
import { findXsnapWorker, runOnXS, XsError, XsWorker } from "./support/xsnap";

const MISSING = "xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)";
const available = findXsnapWorker() !== undefined;
const code = available ? bundle(xsFixture("harness.entry.ts")) : "";

async function onXS(t: TestContext, body: (w: XsWorker) => Promise<void>): Promise<void> {
  if (!available) return t.skip(MISSING);
  const worker = await XsWorker.start();
  try {
    await worker.evaluate(code);
    await body(worker);
  } finally {
    await worker.close();
  }
}

function gone(pid: number | undefined): boolean {
  try {
    process.kill(pid ?? 0, 0);
    return false;
  } catch (e) {
    return e instanceof Error && "code" in e && e.code === "ESRCH";
  }
}

// A fixed xorshift32 stream, so a failure names the same inputs on every run.
function randomInputs(count: number): Uint8Array[] {
  let s = 0x2545f491;
  const next = (): number => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  return Array.from({ length: count }, () => Uint8Array.from({ length: next() % 64 }, () => next() & 0xff));
}

test("CRC-8/Sensirion check value on Node", () => {
  assert.equal(crc8(Uint8Array.of(0xbe, 0xef)), 0x92);
});

test("CRC-8 on XS equals CRC-8 on Node for many inputs", (t) =>
  onXS(t, async (w) => {
    const inputs: Uint8Array[] = [Uint8Array.of(0xbe, 0xef), new Uint8Array(), ...Array.from({ length: 256 }, (_, b) => Uint8Array.of(b))];
    inputs.push(...randomInputs(500));
    const { result } = await w.call({ op: "crc8", inputs });
    assert.deepEqual(result, inputs.map(crc8));
  }));

test("runOnXS: one command on a fresh worker, with a meter", async (t) => {
  if (!available) return t.skip(MISSING);
  const { result, meter } = await runOnXS(code, { op: "crc8", inputs: [Buffer.from([0xbe, 0xef])] });
  assert.deepEqual(result, [0x92]);
  assert.ok(Number.isInteger(meter.compute) && meter.compute > 0);
  assert.ok(Number.isInteger(meter.currentHeapCount) && meter.currentHeapCount > 0);
  assert.ok(Number.isInteger(meter.allocate) && meter.allocate > 0);
  assert.ok(meter.timestamps.length >= 2);
});

test("XS parses and runs what esbuild emits for ES2022", (t) =>
  onXS(t, async (w) => {
    const { result } = await w.call({ op: "es2022" });
    assert.deepEqual(result, [2, true, 1, 3, true, 7, 5, "a+b", [2, 4]]);
  }));

test("exceptions in XS reject with the XS message; the worker lives on", (t) =>
  onXS(t, async (w) => {
    await assert.rejects(w.evaluate('throw new RangeError("nope")'), { name: "XsError", message: "RangeError: nope" });
    await assert.rejects(w.evaluate("let x = ("), (e) => e instanceof XsError && e.message.startsWith("SyntaxError"));
    await assert.rejects(w.evaluate("notDefined()"), /ReferenceError: .*notDefined/);
    await assert.rejects(w.call({ op: "fail", message: "bad input" }), { name: "XsError", message: "RangeError: bad input" });
    assert.deepEqual((await w.call({ op: "crc8", inputs: [Uint8Array.of(0xbe, 0xef)] })).result, [0x92]);
  }));

test("compute is deterministic: same input, same compute, in one worker and a fresh one", (t) =>
  onXS(t, async (w) => {
    const input = { op: "crc8", inputs: randomInputs(20) };
    const first = (await w.call(input)).meter.compute;
    assert.equal((await w.call(input)).meter.compute, first);
    assert.equal((await runOnXS(code, input)).meter.compute, first);
    const more = (await w.call({ op: "crc8", inputs: randomInputs(40) })).meter.compute;
    assert.ok(more > first, `40 inputs cost ${more}, 20 cost ${first}`);
  }));

test("print and issueCommand reach Node", async (t) => {
  if (!available) return t.skip(MISSING);
  const printed: string[] = [];
  const w = await XsWorker.start({
    onPrint: (line) => printed.push(line),
    onIssueCommand: (request) => request.map((b) => b + 1),
  });
  await w.evaluate(code);
  await w.call({ op: "print", text: "hello from XS" });
  assert.deepEqual((await w.call({ op: "ask", bytes: Uint8Array.of(1, 2, 3) })).result, Uint8Array.of(2, 3, 4));
  await w.close(); // stdout is its own pipe: only after "close" is all of it surely read
  assert.deepEqual(printed, ["hello from XS"]);
});

test("async handlers settle; one waiting forever says so", (t) =>
  onXS(t, async (w) => {
    assert.equal((await w.call({ op: "async", value: 3 })).result, 24);
    await assert.rejects(w.call({ op: "never" }), /no reply/);
  }));

test("the worker process is gone after close, a timeout, or the metering limit", async (t) => {
  if (!available) return t.skip(MISSING);
  const closed = await XsWorker.start();
  await closed.close();
  assert.ok(gone(closed.pid), "closed worker still running");
  await assert.rejects(closed.evaluate("1"), /closed/);

  const spinning = await XsWorker.start({ timeoutMs: 200, meteringLimit: 0 });
  await assert.rejects(spinning.evaluate("for (;;) {}"), /no reply within 200 ms/);
  await spinning.close();
  assert.ok(gone(spinning.pid), "timed-out worker still running");

  const metered = await XsWorker.start({ meteringLimit: 100_000 });
  await assert.rejects(metered.evaluate("for (;;) {}"), /too much computation/);
  await metered.close();
  assert.ok(gone(metered.pid), "over-limit worker still running");
});
