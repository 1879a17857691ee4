// Everything the firmware needs from a platform. src/ never reaches for a global, a module of the
// platform or a clock of its own: a host (hosts/esp32, hosts/sim, hosts/node) builds this object and
// hands it to the wake cycle. That is the ECMA-419 host-provider idea applied to the whole app, and
// it is what lets one firmware run on ESP32, in the Moddable simulator, in Node and in tests.

import type { Crc32 } from "./encoding/crc32";
import type { UpdateHost } from "./update/capability";

/** A pin or port number, as ECMA-419 §9 uses them. */
export type PinSpecifier = number;

/** Bytes an IO write accepts (ECMA-419 "buffer" format). */
export type BufferSource = ArrayBuffer | ArrayBufferView;

/** ECMA-419 §10.4 I2C, the members the drivers use. */
export interface I2COptions {
  data: PinSpecifier;
  clock: PinSpecifier;
  hz: number;
  address: number;
  port?: number;
  format?: "buffer";
  /** Bus timeout in ms (Moddable's I2C accepts this; a stuck bus must not hang the wake). */
  timeout?: number;
}
export interface I2C {
  read(byteLength: number, stop?: boolean): ArrayBuffer;
  write(buffer: BufferSource, stop?: boolean): void;
  close(): void;
}
export type I2CConstructor = new (options: I2COptions) => I2C;

/** ECMA-419 §10.2 Analog. */
export interface AnalogOptions {
  pin: PinSpecifier;
  resolution?: number;
}
export interface Analog {
  readonly resolution: number;
  read(): number;
  close(): void;
}
export type AnalogConstructor = new (options: AnalogOptions) => Analog;

/** ECMA-419 §10.3 Digital, input only. */
export interface DigitalOptions {
  pin: PinSpecifier;
  /** One of the class's static modes (Digital.Input, …). */
  mode: number;
}
export interface Digital {
  read(): number;
  close(): void;
}
/** ECMA-419 §10.3: the class carries its modes as statics. Their values differ by host, and not
 *  every SDK's typings say they are numbers, so they are unknown here until a driver checks them. */
export interface DigitalConstructor {
  new (options: DigitalOptions): Digital;
  readonly Input: unknown;
  readonly InputPullUp: unknown;
  readonly InputPullDown: unknown;
}

/**
 * ECMA-419 §11.1 TCP socket, "buffer" format. The first onWritable means connected. onWritable(bytes)
 * and write() both tell how many bytes the socket can take now; the caller writes no more than that,
 * and waits for the next onWritable when it is 0.
 */
export interface TCPOptions {
  address: string;
  port: number;
  nodelay?: boolean;
  format?: "buffer";
  onReadable?: (this: TCP, bytes: number) => void;
  onWritable?: (this: TCP, bytes: number) => void;
  onError?: (this: TCP, error?: Error) => void;
}
export interface TCP {
  read(byteLength?: number): ArrayBuffer | undefined;
  /** Returns the bytes still writable. The socket owns `buffer`'s bytes from then on: a caller never
   *  changes them after the call. */
  write(buffer: BufferSource): number;
  /** Ends the connection after what was written. */
  close(): void;
}
export type TCPConstructor = new (options: TCPOptions) => TCP;

/** ECMA-419 §11.3 TLS socket: TCP options plus the secure ones. */
export interface TLSOptions extends TCPOptions {
  host: string;
  secure?: {
    ca?: ArrayBuffer | string;
    certificate?: ArrayBuffer | string;
    key?: ArrayBuffer | string;
  };
  onHandshake?: (handshake: Handshake) => void;
}
export type TLSConstructor = new (options: TLSOptions) => TCP;

/**
 * How a TLS connection's handshake went, as the host tells it before the first onWritable: it
 * offered the session it kept from an earlier wake and the broker took it ("resumed": one round
 * trip less, no key exchange), or refused it and made a full handshake in the same connection
 * ("refused"), or it had none to offer ("full").
 */
export type Handshake = "full" | "resumed" | "refused";

/** A kept TLS session older than this is not offered: RFC 5246 F.1.4 suggests 24 hours as the
 *  upper limit of a session's life, and a broker forgets its sessions sooner (mosquitto: 2 hours). */
export const TLS_SESSION_MAX_AGE_MS = 86_400_000;

/** The default I2C bus of the board (the plain esp32 provider has none, so config names the pins). */
export interface BusOptions {
  data: PinSpecifier;
  clock: PinSpecifier;
  hz: number;
  port?: number;
}

export interface Network {
  /** Brings the link up (Wi-Fi on a device); calls back once, with an error after timeoutMs at most. */
  up(timeoutMs: number, callback: (error?: Error) => void): void;
  /** Resolves a host name to an address, because ECMA-419 TCP takes an address. */
  resolve(host: string, callback: (error: Error | undefined, address?: string) => void): void;
  /** Turns the radio off. */
  down(): void;
  readonly TCP: TCPConstructor;
  readonly TLS?: TLSConstructor;
  /** The host's own counts of how the link came up (ESP32: connections made straight to the
   *  remembered access point, and full scans after that failed), for the status's `network`. */
  counters?(): Readonly<Record<string, number>>;
}

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch, from an RTC that keeps running while asleep. */
  now(): number;
  /** Monotonic milliseconds since this wake began: for measuring durations. */
  ticks(): number;
  /**
   * False while now() is not traceable to real time: after a power loss, until SNTP sets the RTC.
   * A host sets its clock only while bringing the network up, so a change shows when Network.up
   * calls back. Absent: the clock is always set.
   */
  synced?(): boolean;
}

/** A moment as a Clock tells it: `ticks` (ms, monotonic) for intervals and deadlines, `wall` (ms
 *  since the epoch) for what the status and the daily budgets say. */
export interface Instant {
  ticks: number;
  wall: number;
}

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

/**
 * Memory that survives deep sleep (RTC slow memory on ESP32, a file elsewhere). `bytes` is the whole
 * region; after changing a range, `commit` makes it durable where the medium needs that (a file);
 * on RTC memory the write itself is the commit.
 */
export interface RetainedMemory {
  readonly bytes: Uint8Array;
  commit(offset: number, length: number): void;
}

/**
 * Storage that survives a power loss (NVS through Moddable's Preference on ESP32, a file elsewhere),
 * for the flash tier: the firmware copies its retained state here now and then (config flashEvery,
 * flashFill). Flash wears with every erase, so it is written rarely, never per wake by default.
 * A write either happens whole or not at all.
 */
export interface Flash {
  read(key: string): ArrayBuffer | undefined;
  write(key: string, bytes: ArrayBuffer): void;
  delete(key: string): void;
}

/**
 * HMAC-SHA-256 (RFC 2104 over FIPS 180-4), the one primitive signed commands need: node:crypto on
 * the Node host, the SDK's `crypt` Digest under its `hmac` module on Moddable. Absent on a host that
 * has neither: a `commandKey` is then refused at boot rather than every command at every wake.
 */
export interface Crypto {
  hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array;
  /** AES-128-GCM (NIST SP 800-38D) with a 12-byte nonce and a 16-byte tag, for encrypted telemetry
   *  (`payloadKey`): node:crypto on the Node host, the SDK's `gcm` over its native AES on Moddable.
   *  Absent on a host without it: a `payloadKey` is then refused at boot. */
  readonly aesGcm?: AesGcm;
}

export interface AesGcm {
  /** The ciphertext followed by the tag. */
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or undefined when the tag is wrong. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
}

export type WakeCause = "power-on" | "timer" | "pin" | "reset";

export interface Host {
  /** "esp32", "sim" or "node": shown in status, never used to branch in src/. */
  readonly name: string;
  /** A stable id for this node when the config does not name one (MAC on a device). */
  readonly id: string;
  readonly io: {
    readonly I2C: I2CConstructor;
    readonly Analog?: AnalogConstructor;
    readonly Digital?: DigitalConstructor;
  };
  readonly i2c: BusOptions;
  readonly network: Network;
  readonly clock: Clock;
  readonly timer: Timers;
  readonly retained: RetainedMemory;
  /** Absent on a host without non-volatile storage: the flash tier is then off. */
  readonly flash?: Flash;
  readonly crypto?: Crypto;
  readonly wakeCause: WakeCause;
  /** Absent on a host that cannot take a firmware update (docs/updates.md). */
  readonly update?: UpdateHost;
  log(message: string): void;
  /** Ends the wake and sleeps for ms; the next wake starts the firmware from the top. */
  sleep(ms: number): void;
  /** Light sleep for always-connected mode: RAM, state and connections stay; calls back after ms. */
  nap(ms: number, callback: () => void): void;
  /** CRC-32 in native code where the host has it (ESP32: the ROM's crc32_le), for the retained
   *  state's checksums; absent, the JavaScript one (src/encoding/crc32) serves. */
  readonly crc32?: Crc32;
}
