// One ECMA-419 socket ("buffer" format) driven for an MQTT connection: it opens the socket with
// the callbacks, keeps count of the bytes the socket can take now, writes what the connection has
// to send piece by piece within that room (the next onWritable resumes it), hands on what arrives,
// and closes once. What to write and what the bytes mean are the connection's: the caller passes
// them in, so any MQTT connection can sit on it.

import type { ClientSocket } from "./client-io";

/** What the socket reports, once it is open and until it is closed. */
export interface SocketEvents {
  /** onWritable; `first` on the first one, which means connected. */
  writable(first: boolean): void;
  readable(data: Uint8Array): void;
  error(error?: Error): void;
}

/** The callbacks the driver gives the socket, typed as an ECMA-419 socket calls them. */
export interface SocketCallbacks {
  format: "buffer";
  onWritable(this: ClientSocket | undefined, bytes: number): void;
  onReadable(bytes: number): void;
  onError(error?: Error): void;
}

export class SocketDriver {
  #socket: ClientSocket | undefined;
  /** Bytes the socket can take now: what its onWritable reported, then what each write() left. */
  #room = 0;
  #connected = false;
  #closed = false;

  /** `open` constructs the socket with its own options and `callbacks` (it throws what the socket's
   *  constructor throws). */
  constructor(open: (callbacks: SocketCallbacks) => ClientSocket, events: SocketEvents) {
    const driver = this;
    const socket = open({
      format: "buffer",
      onWritable(bytes) {
        if (driver.#closed) return;
        // A socket that reports room from inside its constructor is known by the `this` it calls with.
        driver.#socket ??= this;
        driver.#room = bytes;
        const first = !driver.#connected;
        driver.#connected = true;
        events.writable(first);
      },
      onReadable() {
        if (driver.#closed) return;
        const data = driver.#socket?.read();
        if (data instanceof ArrayBuffer) events.readable(new Uint8Array(data));
      },
      onError(error) {
        if (!driver.#closed) events.error(error);
      },
    });
    // Known before it connects, so a close() before then closes it.
    this.#socket = socket;
  }

  /** Bytes the socket can take now (0 before it connects). */
  get room(): number {
    return this.#connected ? this.#room : 0;
  }

  /** Writes what `take` gives for the room left, piece by piece, until it gives nothing; returns
   *  whether anything went out. */
  write(take: (room: number) => Uint8Array | undefined): boolean {
    const socket = this.#socket;
    if (!socket || !this.#connected || this.#closed) return false;
    let wrote = false;
    for (let piece = take(this.#room); piece; piece = take(this.#room)) {
      const room = socket.write(piece);
      // A socket whose write() returns nothing is waited on until its next onWritable.
      this.#room = typeof room === "number" ? room : 0;
      wrote = true;
    }
    return wrote;
  }

  /** Closes the socket, once; nothing it reports afterwards reaches the events. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close();
    } catch {
      // Closed already by the peer.
    }
  }
}
