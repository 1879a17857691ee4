// The node's side of an update inside one connection's exchange, sans-IO: it asks for
// subscriptions through `UpdateLink`, is handed the PUBLISHes on its topics, and keeps its record
// with the host after every change. The exchange lets it work only once the wake's telemetry has
// settled (`pump`), and waits for it only while a window of chunks it asked for is outstanding.

import type { Instant } from "../host";
import type { UpdateHost } from "./capability";
import { sameBytes, toHex } from "../encoding/hex";
import { chunkLength, DIGEST_BYTES, judgeOffer, type Offer } from "./offer";
import { decodeRecord, encodeRecord, freshRecord, heldCount, missing, transition, type TransferEvent, type UpdateRecord } from "./transfer";


/** Chunks asked for at once: a few round trips' worth, small beside the receive buffer. */
export const WINDOW = 4;
/** Offers judged in one wake: each costs a signature check, and anyone who may publish under the
 *  prefix can queue any number of them in the node's session. The rest are acknowledged unread. */
export const OFFERS_PER_WAKE = 4;
/** Refused offer ids remembered. */
const REFUSED_IDS = 4;

export interface UpdateLink {
  /** SUBSCRIBE; returns its packet id. */
  subscribe(topics: string[], qos: 0 | 1): number;
  unsubscribe(topics: string[]): void;
}

export interface UpdateBudget {
  wakeBytes: number;
  dayBytes: number;
  wakeMs: number;
}

export interface AgentOptions {
  host: UpdateHost;
  key: Uint8Array;
  node: string;
  prefix: string;
  budget: UpdateBudget;
  /** The newest battery reading, mV; undefined: no battery channel (mains-powered). */
  battery(): number | undefined;
  link: UpdateLink;
  log(line: string): void;
}

export class UpdateAgent {
  readonly #o: AgentOptions;
  #record: UpdateRecord;
  /** SUBSCRIBE packet ids awaiting SUBACK: the offer filter's, a window's. */
  #offerSub: number | undefined;
  #windowSub: number | undefined;
  /** Chunks asked for this wake and not yet in. */
  #outstanding = new Set<number>();
  #wakeBytes = 0;
  #startedAt: number | undefined;
  /** Offers judged this wake. */
  #offers = 0;
  /** No more windows this wake (a budget spent, the deadline, a refused subscription). */
  #stopped = false;

  constructor(options: AgentOptions) {
    this.#o = options;
    const kept = options.host.readProgress();
    const record = kept === undefined ? undefined : decodeRecord(kept);
    if (kept !== undefined && !record) {
      options.log("update progress unreadable: staging discarded");
      options.host.discard();
    }
    this.#record = record ?? freshRecord();
    // A staged image was booted at this wake's start (or rolled back from), or the offered version
    // runs already or was rolled back (a cut came between staging it and saying so): the transfer
    // is over; fetched on, it would be staged, and fail, again and again.
    const t = this.#record.transfer;
    const over = t.phase === "fetching" && (t.offer.version === options.host.version || t.offer.version === options.host.rolledBack);
    if ((t.phase === "staged" && !options.host.keepsStaged) || over) this.#change({ type: "end" });
  }

  get #offerFilter(): string {
    return `${this.#o.prefix}/update/+/offer`;
  }

  /** Waiting for a SUBACK or a chunk of this wake's window. */
  get busy(): boolean {
    return this.#offerSub !== undefined || this.#windowSub !== undefined || this.#outstanding.size > 0;
  }

  /** The first write: the offer filter, when the broker's session does not hold it. */
  begin(): void {
    if (!this.#record.subscribed) this.#offerSub = this.#o.link.subscribe([this.#offerFilter], 1);
  }

  /** The broker has no session for the node: subscribe to offers again. */
  sessionLost(): void {
    if (this.#offerSub !== undefined) return;
    this.#record.subscribed = false;
    this.begin();
  }

  /** A SUBACK; false when it answers someone else's SUBSCRIBE. */
  subscribed(packetId: number, reasonCodes: number[]): boolean {
    const ok = reasonCodes.every((c) => c < 0x80);
    if (packetId === this.#offerSub) {
      this.#offerSub = undefined;
      this.#record.subscribed = ok;
      if (!ok) this.#o.log("broker refused the update offer subscription");
      this.#save();
      return true;
    }
    if (packetId === this.#windowSub) {
      this.#windowSub = undefined;
      if (!ok) {
        this.#o.log("broker refused the update chunk subscription: no chunks this wake");
        this.giveUp();
      }
      return true;
    }
    return false;
  }

  /** A PUBLISH; false when its topic is not an update topic. */
  message(topic: string, payload: Uint8Array, now: Instant): boolean {
    const base = `${this.#o.prefix}/update/`;
    if (!topic.startsWith(base)) return false;
    const [id, part, ...rest] = topic.slice(base.length).split("/");
    // `<prefix>/update/<x>` is no update topic: it may be the node's own, for a node named "update".
    if (id === undefined || part === undefined || rest.length > 0) return false;
    if (part === "offer") this.#offer(id, payload);
    else if (/^\d{1,5}$/.test(part)) this.#chunk(id, Number(part), payload, now);
    return true;
  }

  /**
   * Telemetry has settled: ask for the next window of chunks still missing, within the wake's and
   * the day's budgets and the battery floor.
   */
  pump(now: Instant): void {
    const t = this.#record.transfer;
    if (this.#stopped || this.busy || t.phase !== "fetching") return;
    // The running image is the rollback's only way back until it has proved itself: staging over
    // the slot it would return to (ESP32) or replacing it (Node) must wait for that.
    if (this.#o.host.pending) return this.#stop("the running firmware has not yet completed a publishing wake");
    // Held whole (a cut may have come between the last chunk and the proof): prove it now.
    if (missing(t, 1).length === 0) return this.#verify(t.offer);
    this.#startedAt ??= now.ticks;
    const battery = this.#o.battery();
    if (battery !== undefined && battery < t.offer.battery) return this.#stop(`battery ${battery} mV is below the offer's ${t.offer.battery} mV`);
    const day = Math.floor(now.wall / 86_400_000);
    if (day !== this.#record.day) {
      this.#record.day = day;
      this.#record.dayBytes = 0;
    }
    const { budget } = this.#o;
    if (now.ticks - this.#startedAt >= budget.wakeMs) return this.#stop();
    const room = Math.min(budget.wakeBytes - this.#wakeBytes, budget.dayBytes - this.#record.dayBytes);
    const window = missing(t, WINDOW).filter((_, i) => (i + 1) * t.offer.chunk <= room);
    if (window.length === 0) return this.#stop();
    for (const i of window) this.#outstanding.add(i);
    this.#windowSub = this.#o.link.subscribe(window.map((i) => this.#chunkTopic(t.offer.id, i)), 0);
  }

  /** The wake's deadline came: whatever is outstanding is asked again at the next wake, and its
   *  subscriptions go, so that the broker's session keeps none of them. */
  giveUp(): void {
    this.#stop();
    this.#unsubscribeOutstanding();
    this.#windowSub = undefined;
  }

  /** What the status says of updates. */
  status(): Record<string, unknown> {
    const r = this.#record;
    const t = r.transfer;
    const s: Record<string, unknown> = { state: t.phase, refused: r.refused };
    if (t.phase !== "idle") {
      s.version = t.offer.version;
      s.id = t.offer.id;
    }
    if (t.phase === "fetching") {
      s.held = heldCount(t);
      s.of = Math.ceil(t.offer.size / t.offer.chunk);
    }
    if (r.last !== undefined) s.last = r.last;
    return s;
  }

  #chunkTopic(id: string, index: number): string {
    return `${this.#o.prefix}/update/${id}/${index}`;
  }

  #stop(why?: string): void {
    if (!this.#stopped && why) this.#o.log(`update paused: ${why}`);
    this.#stopped = true;
  }

  #offer(id: string, payload: Uint8Array): void {
    const t = this.#record.transfer;
    if (t.phase !== "idle" && t.offer.id === id) return;
    if (this.#record.refusedIds.includes(id)) return;
    if (++this.#offers > OFFERS_PER_WAKE) {
      if (this.#offers === OFFERS_PER_WAKE + 1) this.#o.log(`update offers past ${OFFERS_PER_WAKE} in one wake: read past`);
      return;
    }
    const verdict = judgeOffer(id, payload, { host: this.#o.host, key: this.#o.key, node: this.#o.node });
    if ("ignore" in verdict) return;
    if ("refuse" in verdict) return this.#refuse(`offer ${id}: ${verdict.refuse}`, verdict.id);
    // A newer offer replaces one under way: what was staged for the old one is no use.
    if (t.phase !== "idle") this.#o.host.discard();
    this.#unsubscribeOutstanding();
    this.#change({ type: "offer", offer: verdict.take });
    this.#o.log(`update ${verdict.take.version} offered (${verdict.take.size} bytes): taking it`);
  }

  #chunk(id: string, index: number, payload: Uint8Array, now: Instant): void {
    const t = this.#record.transfer;
    // Only the chunks asked for count: anything else on these topics is read past.
    if (t.phase !== "fetching" || t.offer.id !== id || !this.#outstanding.delete(index)) return;
    this.#o.link.unsubscribe([this.#chunkTopic(id, index)]);
    const length = chunkLength(t.offer, index);
    if (payload.length !== DIGEST_BYTES + length) return this.#refuse(`chunk ${index} has ${payload.length - DIGEST_BYTES} bytes, not ${length}`, id);
    const data = payload.subarray(DIGEST_BYTES);
    if (!sameBytes(this.#o.host.sha256(data), payload.subarray(0, DIGEST_BYTES))) return this.#refuse(`chunk ${index} corrupted`, id);
    // Written to staging before it is marked held: a cut in between costs this chunk again, never a hole.
    const unwritten = attempt(() => this.#o.host.writeChunk(index * t.offer.chunk, data));
    if (unwritten !== undefined) return this.#refuse(`chunk ${index} not staged: ${unwritten}`, id);
    this.#wakeBytes += length;
    this.#record.dayBytes += length;
    this.#change({ type: "chunk", index });
    if (this.#outstanding.size === 0) this.pump(now);
  }

  /** Every chunk held: the whole image proved against the signed hash, and staged. */
  #verify(offer: Offer): void {
    if (toHex(this.#o.host.stagedSha256(offer.size)) !== offer.sha256) return this.#refuse(`image ${offer.id}: SHA-256 is not the offer's`, offer.id);
    const unstaged = attempt(() => this.#o.host.stage(offer.version));
    if (unstaged !== undefined) return this.#refuse(`image ${offer.id} not staged: ${unstaged}`, offer.id);
    this.#change({ type: "verified" });
    this.#o.log(`update ${offer.version} verified${this.#o.host.keepsStaged ? "" : ": boots at the next wake"}`);
  }

  #refuse(why: string, id: string): void {
    const r = this.#record;
    this.#unsubscribeOutstanding();
    this.#stop();
    const t = r.transfer;
    if (t.phase !== "idle" && t.offer.id === id) {
      this.#o.host.discard();
      r.transfer = transition(t, { type: "end" });
    }
    r.refused++;
    r.last = why.length > 80 ? `${why.slice(0, 79)}…` : why;
    r.refusedIds = [...r.refusedIds.filter((x) => x !== id), id].slice(-REFUSED_IDS);
    this.#o.log(`update refused: ${why}`);
    this.#save();
  }

  #unsubscribeOutstanding(): void {
    const t = this.#record.transfer;
    if (t.phase === "fetching" && this.#outstanding.size > 0) this.#o.link.unsubscribe([...this.#outstanding].map((i) => this.#chunkTopic(t.offer.id, i)));
    this.#outstanding.clear();
  }

  #change(e: TransferEvent): void {
    this.#record.transfer = transition(this.#record.transfer, e);
    this.#save();
  }

  #save(): void {
    this.#o.host.writeProgress(encodeRecord(this.#record));
  }
}

/** Runs a host's staging step: why it failed (a slot too small, an image the bootloader refuses), or
 *  undefined. A refusal then, like any other, discards the staging and leaves the telemetry alone. */
function attempt(step: () => void): string | undefined {
  try {
    step();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
