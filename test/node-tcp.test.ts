// The Node host's ECMA-419 TCP socket keeps the spec's semantics, which the firmware relies on.

import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import type { TCP } from "../src/host";
import { NodeTCP } from "../hosts/node/tcp";

describe("NodeTCP (ECMA-419 TCP over node:net)", () => {
  let server: net.Server;
  let port: number;
  const peers: net.Socket[] = [];
  before(async () => {
    server = net.createServer((socket) => {
      peers.push(socket);
      socket.on("data", (d) => (d.toString() === "bye" ? socket.end() : socket.write(Buffer.concat([Buffer.from("echo:"), d]))));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    for (const p of peers) p.destroy();
    server.close();
  });

  it("calls onWritable once connected, then onReadable with the byte count; read() takes the bytes", async () => {
    const events: string[] = [];
    const text = await new Promise<string>((resolve, reject) => {
      new NodeTCP({
        address: "127.0.0.1",
        port,
        format: "buffer",
        onWritable(bytes) {
          events.push(`writable ${bytes > 0}`);
          if (events.length === 1) this.write(Uint8Array.from(Buffer.from("hi")));
        },
        onReadable(bytes) {
          events.push(`readable ${bytes}`);
          const data = this.read();
          assert.ok(data instanceof ArrayBuffer);
          this.close();
          resolve(Buffer.from(data).toString());
        },
        onError: reject,
      });
    });
    assert.equal(text, "echo:hi");
    assert.deepEqual(events, ["writable true", "readable 7"]);
  });

  it("read(n) takes at most n bytes and leaves the rest", async () => {
    const parts = await new Promise<string[]>((resolve, reject) => {
      new NodeTCP({
        address: "127.0.0.1",
        port,
        onWritable() {
          this.write(new TextEncoder().encode("abc"));
        },
        onReadable() {
          const first = Buffer.from(this.read(3)!).toString();
          const rest = Buffer.from(this.read()!).toString();
          assert.equal(this.read(), undefined);
          this.close();
          resolve([first, rest]);
        },
        onError: reject,
      });
    });
    assert.deepEqual(parts, ["ech", "o:abc"]);
  });

  it("reports the peer closing through onError", async () => {
    const error = await new Promise<Error | undefined>((resolve) => {
      let sent = false;
      new NodeTCP({
        address: "127.0.0.1",
        port,
        onWritable() {
          if (!sent) this.write(new TextEncoder().encode("bye"));
          sent = true;
        },
        onError: resolve,
      });
    });
    assert.match(error!.message, /closed/);
  });

  it("reports a refused connection through onError", async () => {
    const closed = await new Promise<number>((r) => {
      const s = net.createServer();
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const error = await new Promise<Error | undefined>((resolve) => new NodeTCP({ address: "127.0.0.1", port: closed, onError: resolve }));
    assert.match(error!.message, /ECONNREFUSED/);
  });

  it("takes an address, not a host name (ECMA-419: resolve DNS first)", () => {
    assert.throws(() => new NodeTCP({ address: "localhost", port }), /address must be an IP address/);
  });

  it("makes no callback after close()", async () => {
    let calls = 0;
    const socket: TCP = new NodeTCP({ address: "127.0.0.1", port, onWritable: () => calls++, onError: () => calls++ });
    socket.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls, 0);
  });

  it("reports the room left on each write, 0 once node:net would have the writer wait, and onWritable again when it drained", async () => {
    let held: net.Socket | undefined;
    // A peer that reads nothing until told: the writer's buffers fill.
    const sink = net.createServer();
    const peer = new Promise<net.Socket>((resolve) =>
      sink.once("connection", (socket: net.Socket) => {
        held = socket;
        socket.pause();
        resolve(socket);
      }),
    );
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    try {
      const rooms = await new Promise<{ first: number; last: number; again: number }>((resolve, reject) => {
        let first = 0;
        let last = -1;
        new NodeTCP({
          address: "127.0.0.1",
          port: (sink.address() as net.AddressInfo).port,
          onWritable(bytes) {
            if (last === 0) {
              this.close();
              resolve({ first, last, again: bytes });
              return;
            }
            first = bytes;
            const chunk = new Uint8Array(64 * 1024);
            // At most 256 MB: far more than a loopback socket's buffers hold.
            for (let i = 0; i < 4096 && (last = this.write(chunk)) > 0; i++);
            if (last !== 0) return reject(new Error(`write() still reports ${last} bytes of room`));
            void peer.then((socket) => socket.resume());
          },
          onError: reject,
        });
      });
      assert.ok(rooms.first > 0);
      assert.equal(rooms.last, 0);
      assert.ok(rooms.again > 0);
    } finally {
      held?.destroy();
      sink.close();
    }
  });
});
