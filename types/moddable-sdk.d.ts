// What the Moddable SDK's implementations do and its typings do not say — missing from both the
// SDK's own typings (8.2, which mcconfig uses) and npm's @moddable/typings (5.6.0, which
// `npx tsc -p tsconfig.json` uses). Script-style (no top-level import/export), so that each block
// merges with the SDK's declaration instead of replacing it. mcconfig gets this file through the
// manifest's "typescript" section; tsconfig.json lists it after the npm typings because an added
// overload is tried first only when it is declared later.

declare module "embedded:io/socket/tcp" {
  export default interface TCP {
    /** modules/io/socket/{lin,lwip}/tcp.c: returns the bytes still writable, and throws "would
     *  block" (writing nothing) when the value does not fit in them. */
    write(value: number | ArrayBuffer | ArrayBufferView): number;
  }
}

declare module "embedded:io/i2c" {
  export default interface I2C {
    /** ECMA-419 §9.2.1: every IO class has close(); the SDK's I2C does too. */
    close(): void;
    /** Any ArrayBufferView: the SDK reads it with xsmcGetBufferReadable, which takes them all. */
    write(value: ArrayBuffer | ArrayBufferView, stop?: boolean): void;
  }
}

declare module "embedded:io/analog" {
  export default interface Analog {
    close(): void;
  }
}

declare module "embedded:network/interface/wifi" {
  export interface WiFiConnectOptions {
    /** modules/io/wifi/esp32/wifi-esp32.c: 1-13, the channel to scan first (a hint, not a limit). */
    channel?: number;
  }
  export default interface WiFi {
    /** The associated access point's channel; undefined while not associated. */
    readonly channel: number | undefined;
    /** The associated access point's MAC ("aa:bb:cc:dd:ee:ff"); undefined while not associated. */
    readonly BSSID: string | undefined;
  }
}

declare module "sntp" {
  export default interface SNTP {
    /** modules/network/sntp/sntp.js: stops the retries and closes the socket. */
    close(): void;
  }
}

declare module "embedded:io/socket/tcp/tls" {
  export default interface TLSSocket {
    /** $MODDABLE/examples/io/tcp/tlssocket/tlssocket.js: without a count, all the decrypted bytes
     *  received (undefined when there are none). */
    read(): ArrayBuffer | undefined;
    /** tlssocket.js → ssl/session_419 write(): one TLS record; returns the bytes still writable
     *  less 32, and throws (as the TCP socket under it does) when the record does not fit. */
    write(buffer: ArrayBuffer | ArrayBufferView): number;
  }
}

/** modules/crypt/ssl/ssl_constants.js: the algorithm codes a cipher suite entry uses. */
declare module "ssl/constants" {
  export const ECDHE_RSA: number;
  export const AES: number;
  export const SHA256: number;
  export const CBC: number;
  export const GCM: number;
}

declare module "crypt" {
  /** $MODDABLE/modules/crypt/digest/crypt.js: a native block cipher ("AES" with a 16, 24 or 32-byte key). */
  export class BlockCipher {
    constructor(cipher: "AES", key: ArrayBuffer);
  }
}

declare module "gcm" {
  import type { BlockCipher } from "crypt";
  /** $MODDABLE/modules/crypt/etc/gcm.js (NIST SP 800-38D over a native block cipher and GHASH); the
   *  SDK ships no typings for it. */
  export default class GCM {
    constructor(cipher: BlockCipher, tagLength?: number);
    /** Encrypting: the ciphertext followed by the tag. Decrypting (`data` = ciphertext ‖ tag): the
     *  plaintext, or undefined when the tag is wrong. */
    process(data: ArrayBuffer | Uint8Array, buf: undefined, iv: ArrayBuffer, aad: ArrayBuffer, encrypt: boolean): ArrayBuffer | undefined;
  }
}

declare module "hmac" {
  import type { Digest } from "crypt";
  /** $MODDABLE/modules/crypt/etc/hmac.js (RFC 2104 over any of crypt's digests); the SDK ships no
   *  typings for it. */
  export default class HMAC {
    constructor(digest: Digest, key: ArrayBuffer, bitlen?: number);
    /** HMAC of the items written one after the other: the whole tag, whatever `bitlen` says. */
    process(...items: ArrayBuffer[]): ArrayBuffer;
  }
}

// The SDK's elliptic-curve modules (modules/crypt/arith, modules/crypt/etc), which its TLS code
// verifies server signatures with; the SDK ships no typings for them.

declare module "ecp" {
  /** modules/crypt/arith/ecp.js: a point in affine coordinates (identity: the point at infinity). */
  export default class ECPoint {
    constructor(x: bigint, y: bigint, identity?: boolean);
    readonly X: bigint;
    readonly Y: bigint;
    isZero(): boolean;
  }
}

declare module "ec" {
  import type ECPoint from "ecp";
  /** modules/crypt/arith/ec.js: the curve y² = x³ + ax + b over the prime field of m (native). */
  export default class EC {
    constructor(a: bigint, b: bigint, m: bigint);
    readonly a: bigint;
    readonly b: bigint;
    readonly m: bigint;
    mul(point: ECPoint, k: bigint): ECPoint;
  }
}

declare module "curve" {
  import type EC from "ec";
  import type ECPoint from "ecp";
  /** modules/crypt/etc/curve.js: a named curve's parameters. */
  export default class Curve {
    constructor(name: "secp256r1" | "secp384r1");
    readonly G: ECPoint;
    readonly ec: EC;
    /** The order of G. */
    readonly n: bigint;
    readonly orderSize: number;
  }
}

declare module "ecdsa" {
  import type Curve from "curve";
  import type ECPoint from "ecp";
  /** modules/crypt/etc/ecdsa.js: ECDSA over a Curve; `key` the public point to verify with. It
   *  checks neither the point nor the range of r and s. */
  export default class ECDSA {
    constructor(key: ECPoint, curve: Curve);
    /** `hash` the message's digest as an integer's bytes; `signature` r‖s of orderSize bytes each,
     *  or DER when `asn1`. */
    verify(hash: ArrayBuffer, signature: ArrayBuffer, asn1?: boolean): boolean;
  }
}
