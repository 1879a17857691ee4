// The TLS session a Node-hosted node keeps across deep sleep, so that the next connecting wake
// resumes it (an abbreviated handshake: no key exchange, a round trip less) instead of paying a full
// one. It is host state, like the RTC memory a board would keep it in, and never part of the
// firmware's retained layout: a file beside retained.bin for a node run a process per wake, a slot
// of the fleet's memory in a fleet. It is kept with the broker it is for, the CA and credentials it
// was made with, and when: a session is offered only to that broker, with those, for a bounded age
// (TLS_SESSION_MAX_AGE_MS). node:tls hands it over as one opaque blob (a TLS 1.2 session or a
// TLS 1.3 ticket, both with the secret that resumes it), so the file holds that secret: it is where
// the Node host keeps what a board keeps in RTC memory, and it is never logged.

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { readRecord, writeRecord } from "./host-file";

export interface SavedSession {
  /** "host:port" as the config names the broker. */
  broker: string;
  /** A digest of the CA, certificate and key the session was made with. */
  identity: string;
  /** The node's clock when the session was handed over, ms. */
  savedAt: number;
  /** node:tls's session, for tls.connect's `session`. */
  session: Buffer;
}

/** Where one node's session lives between wakes. */
export interface SessionMemory {
  load(): SavedSession | undefined;
  /** undefined forgets it. */
  save(session: SavedSession | undefined): void;
}

/** The file holds the session's secret: readable by the node's own user only, as a key file is. */
const OWNER_ONLY = 0o600;

/** In a checked record file (host-file): a torn or edited file is no session, never an error. */
export function sessionFile(file: string): SessionMemory {
  return {
    load() {
      const read = readRecord(file);
      if (read.status !== "ok") return undefined;
      const { broker, identity, savedAt, session } = read.value;
      if (typeof broker !== "string" || typeof identity !== "string" || typeof savedAt !== "number" || typeof session !== "string") return undefined;
      return { broker, identity, savedAt, session: Buffer.from(session, "base64") };
    },
    save(saved) {
      if (saved === undefined) fs.rmSync(file, { force: true });
      else writeRecord(file, { broker: saved.broker, identity: saved.identity, savedAt: saved.savedAt, session: saved.session.toString("base64") }, OWNER_ONLY);
    },
  };
}

/** A digest naming the CA, certificate and key: a session made with other ones is not offered. */
export function identityOf(parts: readonly (Buffer | string | undefined)[]): string {
  const hash = crypto.createHash("sha256");
  for (const part of parts) {
    const bytes = part === undefined ? Buffer.alloc(0) : Buffer.from(part);
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest("hex").slice(0, 32);
}
