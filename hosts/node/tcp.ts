// ECMA-419 TCP socket (§11.1) over node:net, "buffer" format: an options object with callbacks,
// onWritable(bytes) first when connected, onReadable(bytes) as data arrives, read() to take it,
// write() to send, onError() on failure or when the peer closes, close() to end. The room onWritable
// and write() report is what node:net buffers before it asks the writer to wait (its high-water
// mark, less what is buffered), and onWritable comes again when that buffer has drained.

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { TLS_SESSION_MAX_AGE_MS, type BufferSource, type TCP, type TCPOptions, type TLSConstructor, type TLSOptions } from "../../src/host";
import { identityOf, type SessionMemory } from "./tls-session";

export class NodeTCP implements TCP {
  #socket: net.Socket;
  #received: Buffer[] = [];
  #available = 0;
  #closed = false;
  #corked = false;

  constructor(options: TCPOptions, socket?: net.Socket) {
    if (!net.isIP(options.address)) throw new TypeError(`TCP: address must be an IP address, got "${options.address}"`);
    this.#socket = socket ?? net.connect({ host: options.address, port: options.port, noDelay: options.nodelay ?? false });
    this.#socket.once(socket ? "secureConnect" : "connect", () => this.#closed || options.onWritable?.call(this, this.#room()));
    this.#socket.on("drain", () => this.#closed || options.onWritable?.call(this, this.#room()));
    this.#socket.on("data", (chunk: Buffer) => {
      if (this.#closed) return;
      this.#received.push(chunk);
      this.#available += chunk.length;
      options.onReadable?.call(this, this.#available);
    });
    let failed = false;
    const fail = (error: Error) => {
      if (failed || this.#closed) return;
      failed = true;
      options.onError?.call(this, error);
    };
    this.#socket.on("error", (error: Error) => fail(socket ? tlsError(error) : error));
    this.#socket.on("close", () => fail(new Error("connection closed by peer")));
  }

  read(byteLength?: number): ArrayBuffer | undefined {
    if (this.#available === 0) return undefined;
    const all = Buffer.concat(this.#received);
    const n = byteLength === undefined ? all.length : Math.min(byteLength, all.length);
    const rest = all.subarray(n);
    this.#received = rest.length ? [rest] : [];
    this.#available = rest.length;
    return all.buffer.slice(all.byteOffset, all.byteOffset + n) as ArrayBuffer;
  }

  write(buffer: BufferSource): number {
    if (this.#closed) throw new Error("TCP: closed");
    const bytes = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    // The pieces of one flight, written in one turn, leave as one segment, as a joined write did
    // (each write of its own, with nodelay, would be a segment — and a packet on the air — each).
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(bytes);
    return this.#room();
  }

  /** 0 exactly when node:net's write() would have said to wait, so a "drain" follows. */
  #room(): number {
    return Math.max(0, this.#socket.writableHighWaterMark - this.#socket.writableLength);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // end() flushes what write() queued (the final DISCONNECT) before the FIN.
    this.#socket.end();
    this.#socket.unref();
  }
}

/**
 * Names a TLS failure as one: "TLS: self-signed certificate in certificate chain", "TLS: tlsv13 alert
 * certificate required". OpenSSL's own message is a multi-line dump with a source path
 * ("80EC…:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert …:rec_layer_s3.c:1601:…\n") that
 * would break the node's one-line log; Node keeps the readable part in `reason`. Socket errors
 * (ECONNRESET and the like, which carry a `syscall`) pass unchanged.
 */
function tlsError(error: Error): Error {
  if ("syscall" in error) return error;
  const reason = (error as Error & { reason?: unknown }).reason;
  const text = error.message.includes(":error:") && typeof reason === "string" ? reason : error.message.trim();
  return new Error(`TLS: ${text}`);
}

/** Where a TLS socket keeps its session between wakes, and the node's clock that ages it. */
export interface SessionKeeping {
  memory: SessionMemory;
  now: () => number;
}

/** ECMA-419 TLS socket (§11.3) over node:tls: the server's certificate is verified against `ca`
 *  (or the system's CAs) and its name against `host`. CA, certificate and key are PEM text or paths
 *  of PEM files. With `keeping`, the session of the last wake is offered when it is for this
 *  broker, these CA and credentials and young enough, and the newest one the broker hands over is
 *  kept; any TLS error forgets it. */
export class NodeTLS extends NodeTCP {
  constructor(options: TLSOptions, keeping?: SessionKeeping) {
    const pem = (value: ArrayBuffer | string | undefined) =>
      value === undefined ? undefined : typeof value !== "string" ? Buffer.from(value) : value.includes("-----BEGIN") ? value : fs.readFileSync(value);
    const secure = options.secure ?? {};
    const ca = pem(secure.ca);
    const cert = pem(secure.certificate);
    const key = pem(secure.key);
    const broker = `${options.host}:${options.port}`;
    const identity = identityOf([ca, cert, key]);
    const kept = keeping?.memory.load();
    const age = kept && keeping ? keeping.now() - kept.savedAt : NaN;
    const offered = kept && kept.broker === broker && kept.identity === identity && age >= 0 && age <= TLS_SESSION_MAX_AGE_MS ? kept.session : undefined;
    if (kept && !offered) keeping?.memory.save(undefined);
    const socket = tls.connect({
      host: options.address,
      port: options.port,
      servername: net.isIP(options.host) ? undefined : options.host,
      ca,
      cert,
      key,
      rejectUnauthorized: true,
      // The certificate names the broker by the name in the config, not by the resolved address.
      checkServerIdentity: (_name, certificate) => tls.checkServerIdentity(options.host, certificate),
      ...(offered ? { session: offered } : {}),
      // Resumption by session ID (TLS 1.2) or a stateful ticket (1.3), which the broker keeps: a
      // stateless ticket is some 200 bytes each way more at every wake, the radio's most costly bytes.
      secureOptions: crypto.constants.SSL_OP_NO_TICKET,
    });
    // Registered before NodeTCP's own listeners: the handshake is told before the first onWritable.
    socket.once("secureConnect", () => options.onHandshake?.(socket.isSessionReused() ? "resumed" : offered ? "refused" : "full"));
    if (keeping) {
      socket.on("session", (session: Buffer) => keeping.memory.save({ broker, identity, savedAt: keeping.now(), session }));
      socket.on("error", (error: Error) => {
        if (!("syscall" in error)) keeping.memory.save(undefined);
      });
    }
    super(options, socket);
  }
}

/** The host's TLS class for one node: NodeTLS keeping that node's session. */
export function keepingTLS(keeping: SessionKeeping): TLSConstructor {
  return class extends NodeTLS {
    constructor(options: TLSOptions) {
      super(options, keeping);
    }
  };
}
