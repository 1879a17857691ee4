// The node's state in retained memory: loaded once per wake, committed after every change, and
// copied to flash now and then (the flash tier) so that a real power loss — which wipes RTC memory,
// unlike deep sleep or a reset — costs at most flashEvery wakes' readings instead of all of them.
//
// Loading, in order: the retained slots; if they hold nothing usable, the flash copy; if that is
// missing too, a clean start. A block that is corrupt, foreign or for other sensor channels counts
// a `cold` start, logged once, and so does an empty region on a wake from deep sleep; a restore
// from flash counts `restored` instead. An empty region at power-on or after a reset is a first start.

import type { Config } from "../config";
import type { Host } from "../host";
import type { Channel } from "../sensors/channel";
import { RetainedSlots, type LoadResult } from "./slots";
import { bufferCapacity, freshState, layoutOf, OLDEST_STATE_VERSION, readState, STATE_VERSION, writeState, type NodeState } from "./state";

/** The flash key the state is copied under. */
export const FLASH_KEY = "state";

export class RetainedStore {
  readonly state: NodeState;
  /** Where the state came from: this wake's retained memory, the flash copy, or nowhere (fresh). */
  readonly origin: "retained" | "flash" | "fresh";
  readonly #slots: RetainedSlots;
  readonly #host: Host;

  constructor(host: Host, channels: readonly Channel[], sensors: number) {
    this.#host = host;
    this.#slots = new RetainedSlots(host.retained, STATE_VERSION, OLDEST_STATE_VERSION);
    const capacity = bufferCapacity(this.#slots, channels.length, sensors);
    const layout = layoutOf(channels);
    const parse = (loaded: LoadResult): { state?: NodeState; why: string } => {
      if (loaded.status !== "ok") return { why: loaded.status };
      try {
        const state = readState(loaded.payload, channels.length, capacity, sensors, loaded.version);
        return state.layout === layout ? { state, why: "ok" } : { why: "for other sensor channels" };
      } catch (e) {
        return { why: `unreadable (${e instanceof Error ? e.message : String(e)})` };
      }
    };
    const loaded = this.#slots.load();
    const retained = parse(loaded);
    // Waking from deep sleep (a timer or a wake pin), retained memory holds the last wake's state:
    // finding it empty means it was lost (a brown-out, a wiped region), not a first start.
    const fromSleep = host.wakeCause === "timer" || host.wakeCause === "pin";
    if (loaded.status === "empty" && fromSleep) retained.why = `empty on a ${host.wakeCause} wake (memory lost)`;
    let state = retained.state;
    let origin: RetainedStore["origin"] = state ? "retained" : "fresh";
    // The load hashed the buffer's sealed blocks already: commits take their CRC from that pass.
    state?.buffer.adoptCrc((start, end, power) => this.#slots.loadedCrc(start, end, power));
    let lost = loaded.status !== "empty" || fromSleep;
    if (!state && host.flash) {
      const image = host.flash.read(FLASH_KEY);
      if (image) {
        const copy = parse(RetainedSlots.verify(new Uint8Array(image), STATE_VERSION, OLDEST_STATE_VERSION));
        state = copy.state;
        if (state) {
          origin = "flash";
          state.counters.restored++;
          host.log(`retained state ${retained.why}: restored from flash (${state.buffer.length} readings)`);
        } else {
          lost = true;
          host.log(`flash copy of the state ${copy.why}`);
        }
      }
    }
    if (!state) {
      state = freshState(channels.length, capacity, layout, lost ? 1 : 0, sensors);
      if (lost) host.log(`retained state ${retained.why}: starting clean (cold start counted)`);
    }
    this.state = state;
    this.origin = origin;
  }

  commit(): void {
    const length = writeState(this.state, this.#slots.next);
    this.#slots.commit(length, this.state.buffer.writtenCrc());
  }

  /**
   * Ends a wake's bookkeeping: counts it towards the next flash copy and makes the copy when the
   * config says so. The copy is of a committed slot, and the counter is reset only after it is
   * written, so a power cut in between costs one more copy, never a longer gap.
   */
  endWake(config: Config): void {
    const { state } = this;
    const flash = this.#host.flash;
    state.sinceSpill = Math.min(state.sinceSpill + 1, 0xffff);
    const due = (config.flashEvery > 0 && state.sinceSpill >= config.flashEvery) ||
      (config.flashFill > 0 && state.buffer.bytesUsed * 100 >= config.flashFill * state.buffer.capacity);
    this.commit();
    if (!flash || !due) return;
    flash.write(FLASH_KEY, this.#slots.image().buffer);
    state.sinceSpill = 0;
    this.commit();
  }
}
