// Streaming writes: the driver hands its socket the wake's packets in pieces no larger than the room
// the socket reports (ECMA-419 onWritable and write() both say how many bytes it can take now), goes
// on when onWritable reports room again, and closes the socket only after the last piece — the
// DISCONNECT — is written.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { wake } from "../src/app";
import { parseConfig } from "../src/config";
import type { BufferSource, TCP, TCPOptions } from "../src/host";
import { PacketReader } from "../src/mqtt/codec";
import { SyntheticEnvironment } from "../hosts/virtual/environment";
import { createNodeHost } from "../hosts/node/host";
import { NodeTCP } from "../hosts/node/tcp";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";

/** The room the narrow socket reports: smaller than CONNECT, so packets go out in parts. */
const ROOM = 16;

describe("streaming writes", () => {
  let broker: EmbeddedBroker;
  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());

  it("write no piece larger than the socket's room, resume on onWritable, and close after the DISCONNECT", async () => {
    const config = parseConfig({ broker: broker.url, node: "narrow", batchSize: 1, sampleInterval: 60 });
    const written: Uint8Array[] = [];
    const overflows: string[] = [];
    let atClose: Uint8Array[] | undefined;
    /** A socket that takes ROOM bytes at a time and reports room again on the next turn. */
    class NarrowTCP extends NodeTCP {
      readonly #room: { left: number; closed: boolean; refill: () => void };

      constructor(options: TCPOptions) {
        const room = { left: 0, closed: false, refill: () => {} };
        super({
          ...options,
          onWritable(this: TCP) {
            room.left = ROOM;
            room.refill = () => room.closed || options.onWritable?.call(this, ROOM);
            options.onWritable?.call(this, ROOM);
          },
        });
        this.#room = room;
      }

      override write(buffer: BufferSource): number {
        const bytes = ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
        const room = this.#room;
        if (bytes.length > room.left) overflows.push(`${bytes.length} bytes written with room for ${room.left}`);
        written.push(bytes.slice());
        super.write(bytes);
        room.left = Math.max(0, room.left - bytes.length);
        if (room.left === 0) {
          setImmediate(() => {
            room.left = ROOM;
            room.refill();
          });
        }
        return room.left;
      }

      override close(): void {
        atClose ??= [...written];
        this.#room.closed = true;
        super.close();
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-stream-"));
    const lines: string[] = [];
    const node = createNodeHost({ stateDir: dir, timeScale: 600, config, environment: new SyntheticEnvironment(3), log: (line) => lines.push(line) });
    try {
      const { outcome } = await wake({ ...node, network: { ...node.network, TCP: NarrowTCP } }, config);
      assert.equal(outcome?.error, undefined, lines.join("\n"));
      assert.equal(outcome?.delivered, 1, lines.join("\n"));
      assert.deepEqual(overflows, []);
      assert.ok(written.some((piece) => piece.length === ROOM), "a packet larger than the room went in parts");
      // What was written before close() reads as whole packets, CONNECT to DISCONNECT.
      const reader = new PacketReader(outcome!.version!);
      for (const piece of atClose ?? []) reader.push(piece);
      const types: string[] = [];
      for (let p = reader.next(); p; p = reader.next()) types.push(p.type);
      assert.equal(types[0], "connect");
      assert.equal(types.at(-1), "disconnect", types.join(" "));
      assert.equal(atClose?.length, written.length, "nothing written after close()");
    } finally {
      node.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
