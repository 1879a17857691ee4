// Encryption's nonces (payload-seal.ts): an epoch (u32) and a counter (u32) that never repeat
// under one key, whatever power does. Re-sending a batch re-encodes it, and a new encoding may
// differ (split otherwise, a grown count of dropped readings), so every sealing takes a new nonce.
//
// Counters are reserved RESERVE at a time: the retained state keeps the end of the reservation
// (`sealNext`), committed before the first of them seals anything; the counter itself lives in RAM.
// A wake cut at any point comes back with retained memory as its last commit left it, whose
// `sealNext` is past every counter used. A state that did not come from retained memory (a clean
// start, the flash tier's older copy) may hold an older `sealNext`: the epoch moves on then, kept
// in flash (`moveOn`) before anything is sealed, and when the counter would wrap.

import type { Flash } from "../host";
import type { Nonce } from "../telemetry/payload-seal";
import { moveOn } from "./flash-epoch";
import type { LinkMemory } from "./link-memory";

/** The flash key of the encryption epoch: a little-endian u32. */
const SEAL_EPOCH_FLASH_KEY = "sealepoch";
/** Counters reserved by one commit: a wake seals a few messages, and their sizing a few more. */
const RESERVE = 64;
const COUNTERS = 2 ** 32;

export class NonceCounter {
  /** The next counter this boot may use; undefined until the first reservation. */
  #next: number | undefined;

  constructor(
    private readonly link: LinkMemory,
    private readonly flash: Flash,
    origin: "retained" | "flash" | "fresh",
    private readonly commit: () => void,
  ) {
    if (origin !== "retained" || link.sealEpoch === undefined) this.#newEpoch();
  }

  /** A nonce no sealing under this key has had; the retained state is committed first when a new
   *  reservation is needed. */
  next(): Nonce {
    const { link } = this;
    if (this.#next === undefined || this.#next === link.sealNext) {
      let from = this.#next ?? link.sealNext ?? 0;
      if (from + RESERVE > COUNTERS) {
        this.#newEpoch();
        from = 0;
      }
      link.sealNext = from + RESERVE;
      this.commit();
      this.#next = from;
    }
    return { epoch: link.sealEpoch!, counter: this.#next++ };
  }

  #newEpoch(): void {
    const epoch = moveOn(this.flash, SEAL_EPOCH_FLASH_KEY, 4, this.link.sealEpoch ?? 0);
    // 2^32 starts under one key: never in practice, but a wrapped epoch would repeat nonces.
    if (epoch === 0) throw new Error("payloadKey: its nonces are used up; provision a new key and erase the flash key sealepoch");
    this.link.sealEpoch = epoch;
    this.link.sealNext = 0;
    this.#next = undefined;
  }
}
