// The driver MQTTClient and torpor's wake both run on (clientDriver), against its own contract with
// a fake socket, a fake timer and a scripted protocol: one timer, at the protocol's wakeAt; the
// protocol's output written as the socket has room; the socket closed once, after the last piece;
// nothing the socket or the timer reports reaching the protocol after that; a socket whose
// constructor throws is a connection lost.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientDriver, type Protocol } from "../src/mqtt/client-driver";
import type { ClientSocket } from "../src/mqtt/client-io";
import type { SocketCallbacks } from "../src/mqtt/client-socket";

type Now = { ticks: number };

/** Timers by id; a cleared one is gone, so `pending` is what could still fire. */
class FakeTimer {
  #next = 1;
  readonly timers = new Map<number, { callback: () => void; ms: number }>();
  set(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { callback, ms });
    return id;
  }
  clear(id: unknown): void {
    this.timers.delete(id as number);
  }
  get pending(): { callback: () => void; ms: number }[] {
    return [...this.timers.values()];
  }
  /** Fires the one pending timer, as a one-shot fires: gone once it ran. */
  fire(): void {
    const [id, timer] = [...this.timers.entries()][0]!;
    this.timers.delete(id);
    timer.callback();
  }
}

class FakeSocket implements ClientSocket {
  written: number[][] = [];
  closes = 0;
  inbox: ArrayBuffer | undefined;
  constructor(readonly callbacks: SocketCallbacks, public room: number) {}
  read(): unknown {
    const data = this.inbox;
    this.inbox = undefined;
    return data;
  }
  write(buffer: Uint8Array): number {
    this.written.push([...buffer]);
    this.room -= buffer.length;
    return this.room;
  }
  close(): void {
    this.closes++;
  }
  /** What the peer does: connects (reports room), sends, fails. */
  writable(room: number): void {
    this.room = room;
    this.callbacks.onWritable.call(this, room);
  }
  deliver(bytes: number[]): void {
    this.inbox = Uint8Array.from(bytes).buffer;
    this.callbacks.onReadable(bytes.length);
  }
}

/** A protocol that records what reaches it and hands out the pieces it is given. */
class ScriptedProtocol implements Protocol<Now> {
  calls: string[] = [];
  output: number[] = [];
  wakeAt: number | undefined;
  closed = false;
  get writing(): boolean {
    return this.output.length > 0;
  }
  start(now: Now): void {
    this.calls.push(`start@${now.ticks}`);
  }
  receive(data: Uint8Array, now: Now): void {
    this.calls.push(`receive ${data.length}@${now.ticks}`);
  }
  tick(now: Now): void {
    this.calls.push(`tick@${now.ticks}`);
  }
  lost(error: Error | undefined, now: Now): void {
    this.calls.push(`lost ${error?.message ?? ""}@${now.ticks}`);
    this.closed = true;
  }
  takeOutput(room: number): Uint8Array | undefined {
    if (room === 0 || this.output.length === 0) return undefined;
    return Uint8Array.from(this.output.splice(0, room));
  }
}

function rig() {
  const clock = { ticks: 1000 };
  const timer = new FakeTimer();
  const protocol = new ScriptedProtocol();
  const afters: boolean[] = [];
  const driver = clientDriver<Now>({ protocol, timer, now: () => ({ ticks: clock.ticks }), after: (writable) => afters.push(writable) });
  let socket: FakeSocket | undefined;
  const open = () => driver.open((callbacks) => (socket = new FakeSocket(callbacks, 0)));
  return { clock, timer, protocol, driver, afters, open, socket: () => socket! };
}

describe("the MQTT client's driver", () => {
  it("keeps one timer, at the protocol's wakeAt, and ticks the protocol when it fires", () => {
    const { clock, timer, protocol, driver } = rig();
    protocol.wakeAt = 1500;
    driver.step();
    assert.deepEqual(timer.pending.map((t) => t.ms), [500]);
    clock.ticks = 1200;
    protocol.wakeAt = 1300;
    driver.step();
    // The earlier timer is gone, not left to fire beside the new one.
    assert.deepEqual(timer.pending.map((t) => t.ms), [100]);
    clock.ticks = 1300;
    timer.fire();
    assert.deepEqual(protocol.calls, ["tick@1300"]);
    protocol.wakeAt = undefined;
    driver.step();
    assert.equal(timer.pending.length, 0);
  });

  it("starts the protocol on the first onWritable only, and writes its output as the socket has room", () => {
    const { protocol, open, socket, afters } = rig();
    open();
    protocol.output = [1, 2, 3, 4, 5];
    socket().writable(3);
    assert.deepEqual(socket().written, [[1, 2, 3]]);
    socket().writable(10);
    assert.deepEqual(socket().written, [[1, 2, 3], [4, 5]]);
    socket().deliver([9, 9]);
    assert.deepEqual(protocol.calls, ["start@1000", "receive 2@1000"]);
    assert.deepEqual(afters, [true, true, false]);
  });

  it("closes the socket once, after the last piece a closed protocol hands out, and leaves no timer", () => {
    const { timer, protocol, driver, open, socket } = rig();
    open();
    socket().writable(2);
    protocol.output = [1, 2, 3, 4];
    protocol.closed = true;
    protocol.wakeAt = 5000;
    driver.step();
    // The last packets wait for room, under the protocol's timer.
    assert.equal(socket().closes, 0);
    assert.equal(driver.closed, false);
    assert.equal(timer.pending.length, 1);
    socket().writable(10);
    assert.deepEqual(socket().written, [[1, 2], [3, 4]]);
    assert.equal(socket().closes, 1);
    assert.equal(driver.closed, true);
    assert.equal(driver.room, 0);
    assert.equal(timer.pending.length, 0);
    driver.step();
    assert.equal(socket().closes, 1);
  });

  it("lets nothing the socket reports reach the protocol after it closed", () => {
    const { protocol, driver, open, socket } = rig();
    open();
    socket().writable(10);
    protocol.closed = true;
    driver.step();
    assert.equal(socket().closes, 1);
    protocol.output = [7];
    socket().deliver([1]);
    socket().writable(10);
    socket().callbacks.onError(new Error("reset"));
    assert.deepEqual(protocol.calls, ["start@1000"]);
    assert.deepEqual(socket().written, []);
  });

  it("takes a socket whose constructor throws for a connection lost, and closes", () => {
    const { timer, protocol, driver, afters } = rig();
    protocol.wakeAt = 9000;
    driver.step();
    driver.open(() => {
      throw new Error("no route to host");
    });
    assert.deepEqual(protocol.calls, ["lost no route to host@1000"]);
    assert.equal(driver.closed, true);
    assert.equal(timer.pending.length, 0);
    assert.deepEqual(afters, [false, false]);
  });
});
