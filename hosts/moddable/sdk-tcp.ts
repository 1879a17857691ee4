// The SDK's ECMA-419 TCP socket (embedded:io/socket/tcp: lwip on ESP32, the host's sockets in the
// simulator) behind the Host's TCP contract, which is the SDK's own: write() sends a buffer only if it
// fits in the room onWritable reported, returns the room left, and otherwise throws "would block"
// (modules/io/socket/{lin,lwip}/tcp.c). The uplink's driver writes no more than that room, so this
// keeps no queue and copies nothing. It turns the SDK's silent onError into an Error, and serves the
// SDK's TLS socket too (sdk-tls.ts): a subclass passes the socket to open and how much of the room a
// write reports to hold back for the TLS record around the next piece.

import TCP from "embedded:io/socket/tcp";
import type { BufferSource, TCP as HostTCP, TCPOptions } from "../../src/host";

/** What SDKTCP drives: the SDK's TCP socket, or its TLS socket over one. */
export interface SDKSocket {
  read(byteLength?: number): unknown;
  /** Returns the bytes still writable. */
  write(bytes: Uint8Array): number;
  close(): void;
}

/** The callbacks SDKTCP gives the socket it opens; onError takes the cause when there is one. */
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

export class SDKTCP implements HostTCP {
  #socket: SDKSocket;
  #reserve: number;
  #done = false;

  /** `reserve`: bytes of the room a write returns that the next piece must leave unused. */
  constructor(options: TCPOptions, open: OpenSocket = openTCP, reserve = 0) {
    const self = this;
    this.#reserve = reserve;
    this.#socket = open(options, {
      onWritable(bytes: number) {
        if (!self.#done) options.onWritable?.call(self, bytes);
      },
      onReadable(bytes: number) {
        if (!self.#done) options.onReadable?.call(self, bytes);
      },
      onError(error?: Error) {
        if (self.#done) return;
        self.close();
        // The SDK's TCP passes nothing: a refused connection, a reset and the peer's close look alike.
        options.onError?.call(self, error ?? new Error("connection refused, reset or closed by the peer"));
      },
    });
  }

  read(byteLength?: number): ArrayBuffer | undefined {
    if (this.#done) return undefined;
    const data = byteLength === undefined ? this.#socket.read() : this.#socket.read(byteLength);
    return data instanceof ArrayBuffer ? data : undefined;
  }

  write(buffer: BufferSource): number {
    if (this.#done) throw new Error("TCP: closed");
    const bytes = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    return Math.max(0, this.#socket.write(bytes) - this.#reserve);
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.#socket.close();
    } catch {
      // Closed already, by the SDK after an error.
    }
  }
}
