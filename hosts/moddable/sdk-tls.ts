// The Host's TLS (mqtts://) on the Moddable hosts: the SDK's ECMA-419 TLS socket
// (embedded:io/socket/tcp/tls, $MODDABLE/examples/io/tcp/tlssocket, over ssl/session from
// modules/crypt/tls_419.json) on the SDK's TCP socket, behind the same adapter as plain TCP
// (`SDKTCP`). Config names the certificates as resources, which this reads into the bytes the
// SSL session wants:
//   secure.ca          (tlsCa)   → the session's `certificate`: a trusted CA, beside the SDK's own list
//   secure.certificate (tlsCert) → `clientCertificates: [it]`, sent when the broker asks for one
//   secure.key         (tlsKey)  → `clientKey`: its PKCS#8 private key
// Each is DER, or PEM (the first block is used). Only ECDHE suites are offered (ssl-ciphersuites),
// and the session is kept across deep sleep in the host's retained bytes (tls-cache), which the
// SDK's TLS offers through "ssl/cache" at the next connecting wake.

import TCP from "embedded:io/socket/tcp";
import TLSSocket from "embedded:io/socket/tcp/tls";
import Resource from "Resource";
import Time from "time";
import { log } from "./runtime";
import { SDKTCP } from "./sdk-tcp";
import type { SDKSocket, SDKSocketCallbacks } from "./sdk-tcp";
import type { RetainedMemory, TCPOptions, TLSConstructor, TLSOptions } from "../../src/host";
import { expect, forget, handshake, identityOf } from "./tls-cache";

/** The TLS socket reports its onWritable room less 96 bytes for the record around it, but the
 *  room a write returns less only 32; a CBC record with SHA-384 adds up to 85. */
const RESERVE = 64;

const CONFIG_KEYS = { ca: "tlsCa", certificate: "tlsCert", key: "tlsKey" } as const;
type SecureKey = keyof typeof CONFIG_KEYS;

/** A `secure` value as bytes: an ArrayBuffer as it is, a string as the resource it names. */
export function secureBytes(which: SecureKey, value: ArrayBuffer | string): ArrayBuffer {
  if (typeof value !== "string") return value;
  if (!Resource.exists(value)) {
    throw new Error(`${CONFIG_KEYS[which]}: no resource "${value}" in this build (list the file under "resources" in the manifest)`);
  }
  const bytes = new Resource(value).slice(0);
  const der = fromPEM(new Uint8Array(bytes));
  if (der === null) throw new Error(`${CONFIG_KEYS[which]}: resource "${value}" is PEM without a valid base64 block`);
  return der ?? bytes;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The first PEM block's bytes; undefined when `text` is not PEM (DER then), null when it is broken. */
function fromPEM(text: Uint8Array): ArrayBuffer | undefined | null {
  const head = "-----BEGIN";
  let i = 0;
  while (i < text.length && (text[i] === 0x20 || text[i] === 0x0a || text[i] === 0x0d || text[i] === 0x09)) i++;
  for (let k = 0; k < head.length; k++) if (text[i + k] !== head.charCodeAt(k)) return undefined;
  // Past the BEGIN line, up to the END line.
  while (i < text.length && text[i] !== 0x0a) i++;
  const out = new Uint8Array(Math.ceil((text.length * 3) / 4));
  let n = 0;
  let bits = 0;
  let acc = 0;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (c === 0x2d) break; // "-----END"
    if (c === 0x3d || c <= 0x20) continue; // "=" padding and line breaks
    const v = B64.indexOf(String.fromCharCode(c));
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return n > 0 ? out.slice(0, n).buffer : null;
}

/** The options the TLS socket passes on to the TCP class it is given (its own, spread). */
interface RawOptions {
  address: string;
  port: number;
  nodelay?: boolean;
  onReadable?: (bytes: number) => void;
  onWritable?: (bytes: number) => void;
  onError?: () => void;
  /** Ours: what a callback of the TLS socket threw (a failed handshake throws from onReadable). */
  onFailure: (error: Error) => void;
  /** Ours: around each callback of the TLS socket, where its handshake work is done. */
  onEnter: () => void;
  onLeave: () => void;
}

/** The SDK's TCP with the TLS socket's callbacks guarded: an exception from the handshake (a
 *  certificate that does not verify, an alert) becomes an error for the caller, not an abort. */
class GuardedTCP extends TCP {
  constructor(options: RawOptions) {
    const { onFailure, onEnter, onLeave } = options;
    const guard = (callback: ((bytes: number) => void) | undefined) => (bytes: number) => {
      onEnter();
      try {
        callback?.(bytes);
      } catch (e) {
        onFailure(e instanceof Error ? e : new Error(String(e)));
      } finally {
        onLeave();
      }
    };
    super({
      address: options.address,
      port: options.port,
      nodelay: options.nodelay ?? false,
      format: "buffer",
      onReadable: guard(options.onReadable),
      onWritable: guard(options.onWritable),
      onError: () => options.onError?.(),
    });
  }
}

/** Session options (ssl/session_419, ssl/ssl_cert): see the top of this file. */
interface SessionOptions {
  certificate?: ArrayBuffer;
  clientCertificates?: ArrayBuffer[];
  clientKey?: ArrayBuffer;
}

/** Where the session is kept between wakes, and the host's wall clock (ms) that ages it. */
export interface SessionKeeping {
  memory: RetainedMemory;
  now: () => number;
}

function openTLS(options: TLSOptions, keeping: SessionKeeping, callbacks: SDKSocketCallbacks): SDKSocket {
  const secure: SessionOptions = {};
  if (options.secure?.ca !== undefined) secure.certificate = secureBytes("ca", options.secure.ca);
  if (options.secure?.certificate !== undefined) secure.clientCertificates = [secureBytes("certificate", options.secure.certificate)];
  if (options.secure?.key !== undefined) secure.clientKey = secureBytes("key", options.secure.key);
  expect({
    memory: keeping.memory,
    broker: `${options.host}:${options.port}`,
    identity: identityOf([secure.certificate, secure.clientCertificates?.[0], secure.clientKey]),
    now: Math.floor(keeping.now() / 1000),
  });
  let failed = false;
  let told = false;
  // The client's handshake work: time inside the TLS socket's callbacks until it is done. Logged
  // once a connection, so a console (and bench:tls in mcsim) sees what the handshake cost.
  let work = 0;
  let since = 0;
  const tlsOptions = {
    address: options.address,
    port: options.port,
    nodelay: options.nodelay ?? false,
    format: "buffer" as const,
    host: options.host,
    secure,
    TCP: { io: GuardedTCP },
    onEnter() {
      since = Time.ticks;
    },
    onLeave() {
      if (!told) work += Time.delta(since);
    },
    onFailure(error: Error) {
      if (failed) return;
      failed = true;
      // A session that may be what failed is not offered again.
      forget();
      callbacks.onError(new Error(`TLS with ${options.host}: ${error.message || "handshake failed"}`));
    },
    // The TLS socket's first onWritable comes when the handshake is done.
    onWritable: (bytes: number) => {
      if (!told) {
        told = true;
        work += Time.delta(since);
        const how = handshake();
        log(`TLS: ${how} handshake, ${work} ms of client work`);
        options.onHandshake?.(how);
      }
      callbacks.onWritable(bytes);
    },
    onReadable: (bytes: number) => callbacks.onReadable(bytes),
    onError: () => {
      if (!failed) callbacks.onError();
    },
  };
  const socket = new TLSSocket(tlsOptions);
  return {
    read: (byteLength?: number) => (byteLength === undefined ? socket.read() : socket.read(byteLength)),
    // The record layer takes a whole buffer: a view into a larger one goes as a copy.
    write: (bytes: Uint8Array) =>
      socket.write(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer),
    close: () => socket.close(),
  };
}

/** The host's TLS class, keeping its session in `keeping`. */
export function sdkTLS(keeping: SessionKeeping): TLSConstructor {
  return class SDKTLS extends SDKTCP {
    constructor(options: TLSOptions) {
      super(options, (_tcp: TCPOptions, callbacks: SDKSocketCallbacks) => openTLS(options, keeping, callbacks), RESERVE);
    }
  };
}
