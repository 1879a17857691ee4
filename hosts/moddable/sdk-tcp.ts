// The SDK's ECMA-419 TCP socket (embedded:io/socket/tcp: lwip on ESP32, the host's sockets in the
// simulator) behind the Host's TCP contract. The SDK's write() sends a buffer only if it fits in the
// space onWritable reported, and otherwise throws "would block" (modules/io/socket/{lin,lwip}/tcp.c),
// while the firmware writes a pipelined batch in one call, as node:net lets it. So this queues what
// does not fit and sends it as onWritable reports room, and close() waits for the queue to go out —
// the final DISCONNECT is in it — for at most CLOSE_GRACE_MS. The same queue serves the SDK's TLS
// socket (sdk-tls.ts): a subclass passes the socket to open and how much of the space a write
// reports to hold back for the TLS record around the next chunk.

import TCP from "embedded:io/socket/tcp";
import Timer from "timer";
import type { BufferSource, TCP as HostTCP, TCPOptions } from "../../src/host";

const CLOSE_GRACE_MS = 2000;

/**
 * How many sockets have a queue that has not gone out yet: a device waits for them before it turns
 * the radio off. A count, not a Set of them: this module is preloaded, and a Set made at preload
 * lives in flash, where it cannot change.
 */
let draining = 0;

export function pendingSockets(): number {
  return draining;
}

/** What BufferedTCP drives: the SDK's TCP socket, or its TLS socket over one. */
export interface SDKSocket {
  read(byteLength?: number): unknown;
  /** Returns the bytes still writable. */
  write(bytes: Uint8Array): number;
  close(): void;
}

/** The callbacks BufferedTCP gives the socket it opens; onError takes the cause when there is one. */
export interface SDKSocketCallbacks {
  onWritable(bytes: number): void;
  onReadable(bytes: number): void;
  onError(error?: Error): void;
}

export type OpenSocket = (options: TCPOptions, callbacks: SDKSocketCallbacks) => SDKSocket;

const openTCP: OpenSocket = (options, callbacks) =>
  new TCP({
    address: options.address,
    port: options.port,
    nodelay: options.nodelay ?? false,
    format: "buffer",
    onWritable: (bytes: number) => callbacks.onWritable(bytes),
    onReadable: (bytes: number) => callbacks.onReadable(bytes),
    onError: () => callbacks.onError(),
  });

export class BufferedTCP implements HostTCP {
  #socket: SDKSocket;
  #reserve: number;
  #queue: Uint8Array[] = [];
  #writable = 0;
  #closing: Timer | undefined;
  #done = false;
  /** Counted in `draining`. */
  #draining = false;

  /** `reserve`: bytes of the space a write returns that the next chunk must leave unused. */
  constructor(options: TCPOptions, open: OpenSocket = openTCP, reserve = 0) {
    const self = this;
    this.#reserve = reserve;
    this.#socket = open(options, {
      onWritable(bytes: number) {
        self.#writable = bytes;
        self.#drain();
        if (!self.#done && self.#closing === undefined && self.#queue.length === 0) options.onWritable?.call(self, self.#writable);
      },
      onReadable(bytes: number) {
        if (!self.#done && self.#closing === undefined) options.onReadable?.call(self, bytes);
      },
      onError(error?: Error) {
        // The SDK's TCP passes nothing: a refused connection, a reset and the peer's close look alike.
        const quiet = self.#done || self.#closing !== undefined;
        self.#end();
        if (!quiet) options.onError?.call(self, error ?? new Error("connection refused, reset or closed by the peer"));
      },
    });
  }

  read(byteLength?: number): ArrayBuffer | undefined {
    if (this.#done) return undefined;
    const data = byteLength === undefined ? this.#socket.read() : this.#socket.read(byteLength);
    return data instanceof ArrayBuffer ? data : undefined;
  }

  write(buffer: BufferSource): void {
    if (this.#done || this.#closing !== undefined) throw new Error("TCP: closed");
    const bytes = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    if (bytes.length === 0) return;
    // A copy: the caller may reuse its buffer once write() returns, as node:net allows.
    this.#queue.push(bytes.slice());
    this.#setDraining(true);
    this.#drain();
  }

  close(): void {
    if (this.#done || this.#closing !== undefined) return;
    if (this.#queue.length === 0) return this.#end();
    this.#closing = Timer.set(() => this.#end(), CLOSE_GRACE_MS);
  }

  #drain(): void {
    while (!this.#done && this.#queue.length > 0 && this.#writable > 0) {
      const head = this.#queue[0]!;
      const n = Math.min(head.length, this.#writable);
      try {
        this.#writable = Math.max(0, this.#socket.write(n === head.length ? head : head.subarray(0, n)) - this.#reserve);
      } catch {
        // "would block" after all (the space changed under us): the next onWritable resumes.
        this.#writable = 0;
        return;
      }
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
    }
    if (this.#queue.length === 0) {
      this.#setDraining(false);
      if (this.#closing !== undefined) this.#end();
    }
  }

  #setDraining(on: boolean): void {
    if (on !== this.#draining) draining += on ? 1 : -1;
    this.#draining = on;
  }

  #end(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#closing !== undefined) Timer.clear(this.#closing);
    this.#queue.length = 0;
    this.#setDraining(false);
    try {
      this.#socket.close();
    } catch {
      // Closed already, by the SDK after an error.
    }
  }
}
