// The one loop that runs an MQTT connection, for MQTTClient and torpor's wake alike: it opens the
// socket through socketDriver, gives a sans-IO protocol the socket's bytes, its connecting and the
// time, writes what the protocol hands out as the socket has room, keeps one timer at the
// protocol's `wakeAt`, and closes the socket once the protocol is closed and has nothing left to
// write. What to send and what an answer means — the policy — is the protocol's: MQTTClient's
// (ClientProtocol: an application's messages, kept in a store) or the wake's (Exchange: readings,
// kept in retained memory).

import type { ClientSocket, ClientTimer } from "./client-io";
import { socketDriver, type SocketCallbacks, type SocketDriver } from "./client-socket";

/** A connection's protocol, sans IO: bytes and time in, bytes and a wake-up time out. `now` is the
 *  driver's clock, read once per step; `ticks` is what `wakeAt` counts in. */
export interface Protocol<Now extends { readonly ticks: number }> {
  /** The socket connected: the first output (CONNECT, and what is pipelined behind it). */
  start(now: Now): void;
  receive(data: Uint8Array, now: Now): void;
  /** `wakeAt` came (or a timer fired early: the protocol compares). */
  tick(now: Now): void;
  /** The socket failed, closed, or could not be constructed. */
  lost(error: Error | undefined, now: Now): void;
  /** The next piece to write, at most `room` bytes, written at `now`; undefined when there is none. */
  takeOutput(room: number, now: Now): Uint8Array | undefined;
  /** When tick() is wanted, in ticks; undefined: never. */
  readonly wakeAt: number | undefined;
  /** The connection is over: the socket closes as soon as nothing is left to write. */
  readonly closed: boolean;
  /** Output is still to be written (a closed protocol's last packets). */
  readonly writing: boolean;
}

export interface DriverOptions<Now extends { readonly ticks: number }> {
  protocol: Protocol<Now>;
  /** The clock, read once at each step. */
  now(): Now;
  /** Needed only by a protocol that ever has a `wakeAt`. */
  timer?: ClientTimer | undefined;
  /** The owner's turn at the end of every step (settle a promise, offer room to an application);
   *  `writable`: the step was the socket's onWritable. */
  after?(writable: boolean): void;
}

/** A protocol driven: `open` the socket when the owner has an address, `step` it with the owner's
 *  own inputs. */
export interface Driver<Now> {
  /** Bytes the socket can take now (0 before it connects, and once closed). */
  readonly room: number;
  /** The socket is closed (or was never opened and never will be). */
  readonly closed: boolean;
  /** Opens the socket (`open` constructs it with `callbacks`). One that throws is lost to the protocol. */
  open(open: (callbacks: SocketCallbacks) => ClientSocket): void;
  /** Gives the protocol an input of the owner's (none: only write, time and close what is due). */
  step(input?: (now: Now) => void): void;
}

// A factory of closures rather than a class, as socketDriver: the wake links this in, and a class's
// prototype, methods and private names would stay live in the heap of every wake.
export function clientDriver<Now extends { readonly ticks: number }>(options: DriverOptions<Now>): Driver<Now> {
  const { protocol, timer, after } = options;
  let closed = false;
  let timeout: unknown;
  /** Made when the socket opens: a wake whose network never comes up makes none. */
  let socket: SocketDriver | undefined;
  const wake = () => {
    timeout = undefined;
    step((now) => protocol.tick(now));
  };
  function step(input: ((now: Now) => void) | undefined, writable = false): void {
    const now = options.now();
    input?.(now);
    if (!closed) {
      socket?.write((room) => protocol.takeOutput(room, now));
      if (timeout !== undefined) timer?.clear(timeout);
      timeout = undefined;
      // A closed protocol's last packets (a status, DISCONNECT) go out before the socket closes.
      if (protocol.closed && !protocol.writing) {
        closed = true;
        socket?.close();
      } else {
        const at = protocol.wakeAt;
        if (at !== undefined && timer) timeout = timer.set(wake, Math.max(0, at - options.now().ticks));
      }
    }
    after?.(writable);
  }
  return {
    get room() {
      return closed ? 0 : (socket?.room ?? 0);
    },
    get closed() {
      return closed;
    },
    open(open) {
      if (closed) return;
      socket = socketDriver({
        writable: (first) => step(first ? (now) => protocol.start(now) : undefined, true),
        readable: (data) => step((now) => protocol.receive(data, now)),
        error: (error) => step((now) => protocol.lost(error, now)),
      });
      try {
        socket.open(open);
      } catch (e) {
        step((now) => protocol.lost(e instanceof Error ? e : new Error(String(e)), now));
      }
    },
    step,
  };
}
