// Where the client keeps a persistent session's in-flight messages, so that QoS 1 and 2 survive the
// connection, the client object, and — with a store over memory that survives it — deep sleep.
// The client saves before each PUBLISH goes out and after each change an acknowledgement makes, so
// whatever it loads next time is never behind what the broker was told.

import type { PublishProperties } from "./packets";
import type { SessionState } from "./session";

/** What a QoS 1/2 message needs to be sent again: everything but its packet id (the in-flight entry's). */
export interface StoredMessage {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
  properties?: PublishProperties;
}

/** The session as stored: the session's packet ids and in-flight table, and the messages the
 *  entries still `sent` carry (a `released` QoS 2 entry needs none: only its PUBREL is ever resent). */
export interface ClientSessionState extends SessionState {
  messages: Map<number, StoredMessage>;
  /** MQTT 5: the broker's Receive Maximum from its last CONNACK, so that the next connection's
   *  pipelined PUBLISHes never exceed it before the CONNACK says it again. */
  receiveMaximum?: number;
  /** MQTT 5: the broker's Maximum Packet Size from its last CONNACK: a stored message over it is
   *  refused at the next connection rather than sent into a DISCONNECT on every connection. */
  maximumPacketSize?: number;
}

export interface SessionStore {
  /** The session saved last, or undefined for none. */
  load(): ClientSessionState | undefined;
  save(session: ClientSessionState): void;
  /** Forgets the session: a clean start. */
  clear(): void;
}

export const emptyClientSession = (): ClientSessionState => ({ nextPacketId: 1, inflight: [], messages: new Map() });

/** The default: RAM, so a session lasts as long as the store object — across client objects and
 *  reconnections, not across a reset or deep sleep. */
export class MemoryStore implements SessionStore {
  #session: ClientSessionState | undefined;

  load(): ClientSessionState | undefined {
    return this.#session;
  }

  save(session: ClientSessionState): void {
    this.#session = session;
  }

  clear(): void {
    this.#session = undefined;
  }
}
