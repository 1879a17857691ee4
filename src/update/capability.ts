// What a host gives the firmware to take an update: the running image's identity, the crypto the
// proof needs (ECDSA P-256 and SHA-256: what Moddable's crypt modules and node:crypto both have),
// a staging area and the transfer's progress record, both kept across deep sleep and power loss,
// and the pending-verify flag of a freshly booted image. Optional on `Host`: without it, or without
// `updateKey` in the config, the node takes no update.

export interface UpdateHost {
  /** The running image's version (semver). */
  readonly version: string;
  /** The board family an image must be built for: the host's name. */
  readonly board: string;
  /** ECDSA P-256 over SHA-256: `publicKey` an uncompressed point (65 bytes), `signature` r‖s (64). */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  sha256(bytes: Uint8Array): Uint8Array;
  /** The transfer's progress record as the firmware last wrote it; undefined when none. */
  readProgress(): string | undefined;
  /** Replaces the progress record whole (a cut leaves the old one or the new one). */
  writeProgress(text: string): void;
  writeChunk(offset: number, bytes: Uint8Array): void;
  /** SHA-256 of the first `size` staged bytes. */
  stagedSha256(size: number): Uint8Array;
  /** Drops whatever is staged. */
  discard(): void;
  /** The staged image is verified: the host boots it at the next wake. */
  stage(version: string): void;
  /** True on a host that cannot boot a staged image (the simulator): the transfer stays staged, and
   *  the status says so, until a newer offer replaces it; elsewhere the next wake boots it. */
  readonly keepsStaged?: boolean;
  /** The running image was booted for the first time and has not yet completed a publishing wake. */
  readonly pending: boolean;
  /** The running image completed a publishing wake: it is kept. */
  markValid(): void;
  /** The version the host returned from at boot because it never proved itself; undefined if none. */
  readonly rolledBack: string | undefined;
}
