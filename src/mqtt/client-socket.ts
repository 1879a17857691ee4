// One ECMA-419 socket ("buffer" format) driven for an MQTT connection: it opens the socket with
// the callbacks, keeps count of the bytes the socket can take now, writes what the connection has
// to send piece by piece within that room (the next onWritable resumes it), hands on what arrives,
// and closes once. What to write and what the bytes mean are the connection's: clientDriver, the
// loop MQTTClient and torpor's wake both run on, passes them in.

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

/** One socket driven: `open` it, then `write` while it is up, and `close` it once. */
export interface SocketDriver {
  /** Bytes the socket can take now (0 before it connects). */
  readonly room: number;
  /** Opens the socket: `open` constructs it with its own options and `callbacks`, and throws what its
   *  constructor throws. A socket that calls back from inside its constructor is driven already. */
  open(open: (callbacks: SocketCallbacks) => ClientSocket): void;
  /** Writes what `take` gives for the room left, piece by piece, until it gives nothing. */
  write(take: (room: number) => Uint8Array | undefined): void;
  /** Closes the socket, once; nothing it reports afterwards reaches the events. */
  close(): void;
}

// A factory of closures rather than a class: the wake links this in, and a class's prototype,
// methods and private names would stay live in the heap of every wake, used or not.
export function socketDriver(events: SocketEvents): SocketDriver {
  let socket: ClientSocket | undefined;
  /** Bytes the socket can take now: what its onWritable reported, then what each write() left. */
  let room = 0;
  let connected = false;
  let closed = false;
  return {
    get room() {
      return connected ? room : 0;
    },
    open(open) {
      const opened = open({
        format: "buffer",
        onWritable(bytes) {
          if (closed) return;
          // One that reports room from inside its constructor is known by the `this` it calls with.
          socket ??= this;
          room = bytes;
          const first = !connected;
          connected = true;
          events.writable(first);
        },
        onReadable() {
          if (closed) return;
          const data = socket?.read();
          if (data instanceof ArrayBuffer) events.readable(new Uint8Array(data));
        },
        onError(error) {
          if (!closed) events.error(error);
        },
      });
      // Known before it connects, so a close() before then closes it.
      if (closed) opened.close();
      else socket = opened;
    },
    write(take) {
      if (!socket || !connected || closed) return;
      for (let piece = take(room); piece; piece = take(room)) {
        const left = socket.write(piece);
        // A socket whose write() returns nothing is waited on until its next onWritable.
        room = typeof left === "number" ? left : 0;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      const was = socket;
      socket = undefined;
      try {
        was?.close();
      } catch {
        // Closed already by the peer.
      }
    },
  };
}
