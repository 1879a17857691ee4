// What the MQTT client takes from its host, as ECMA-419 IO classes passed in through options (the
// SDK's mqttclient takes them the same way): a TCP or TLS socket in "buffer" format, and optionally
// a DNS resolver and a timer. Declared here, not taken from the SDK's typings, so the client stays
// portable: Node, XS and a test's fake socket all fit.

/** ECMA-419 TCP/TLS socket, "buffer" format: the first onWritable means connected; onWritable and
 *  write() tell how many bytes it can take now. */
export interface ClientSocket {
  /** An ArrayBuffer in "buffer" format; typed wider, as the SDK's typings type it for either format. */
  read(byteLength?: number): unknown;
  /** The bytes it can take now. The SDK's typings say void; its sockets return the count, and a
   *  socket that returns nothing is waited on until its next onWritable. */
  write(buffer: Uint8Array): number | void;
  close(): void;
}

export interface ClientSocketOptions {
  address: string;
  port: number;
  /** The broker's name for TLS to check, or its address when the client was given only that. */
  host: string;
  format?: "buffer";
  onReadable(bytes: number): void;
  onWritable(bytes: number): void;
  onError(error?: Error): void;
  /** TLS and the like: the options of `socket` beyond `io` pass through untouched. */
  [option: string]: unknown;
}

export type ClientSocketConstructor = new (options: ClientSocketOptions) => ClientSocket;

/** ECMA-419 DNS resolver (the SDK's embedded:network/dns/resolver/udp). */
export interface ClientResolver {
  /** onError's argument is whatever the resolver gives (the SDK's gives the host name). */
  resolve(options: { host: string; onResolved(host: string, address: string): void; onError(reason?: unknown): void }): void;
  close?(): void;
}

export type ClientResolverConstructor = new (options: Record<string, unknown>) => ClientResolver;

/** A one-shot timer (Moddable's `Timer.set`/`Timer.clear`, or Node's setTimeout/clearTimeout):
 *  only keep-alive needs one. */
export interface ClientTimer {
  set(callback: () => void, ms: number): unknown;
  clear(id: unknown): void;
}
