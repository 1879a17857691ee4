// A binary range coder with adaptive bit models, the entropy stage of the compact payload
// (docs/compact-format.md). It is LZMA's coder (carry-less output through a cache byte and a run of
// 0xFF bytes; 32-bit range, renormalised a byte at a time below 2^24) with two changes: the models
// are 16-bit and learn at the rate 1/(n + 2) for their first n decisions, then 1/32, so that a
// message of a few dozen readings pays little to learn its statistics; and the stream omits LZMA's
// leading zero byte and up to four trailing zero bytes (the decoder reads zeros past the end), so ending a
// message costs about one byte.
//
// Why not the buffer's bit packing: on the Candanedo recording, batches of 60 readings packed as
// plain Sprintz delta blocks take 0.72 bytes a value, anchors included; range-coded with the same
// predictor, 0.54 (bench/formats.ts measures both). All arithmetic is on integers below 2^53, the
// same in XS and in Node, so a message encoded on a node decodes bit-exactly anywhere.

/** Probability of a 0, in 1/65536, that every model starts at. */
const HALF = 0x8000;
/** Models stop speeding up after this many decisions: from then on they move by 1/32. */
const LEARNING = 30;
/** 65536 / (n + 2): the step a model takes at its n-th decision. */
const RATE = Uint16Array.from({ length: LEARNING + 1 }, (_, n) => Math.floor(0x10000 / (n + 2)));
/** Models never reach certainty: a surprising bit costs at most 10 bits, never an overflow. */
const FLOOR = 64;
const CEILING = 0x10000 - FLOOR;
const TOP = 0x1000000;
const SPAN = 0x100000000;

/** A set of adaptive bit models, indexed by context number. */
export class Models {
  readonly p: Uint16Array;
  readonly n: Uint8Array;

  constructor(count: number) {
    this.p = new Uint16Array(count).fill(HALF);
    this.n = new Uint8Array(count);
  }

  /** Moves model `i` towards the bit it has just coded (RangeEncoder.bit does the same inline). */
  update(i: number, bit: number): void {
    const n = this.n[i]!;
    const p = this.p[i]!;
    let next;
    if (bit) {
      next = p - ((p * RATE[n]!) >> 16);
      if (next < FLOOR) next = FLOOR;
    } else {
      next = p + (((0x10000 - p) * RATE[n]!) >> 16);
      if (next > CEILING) next = CEILING;
    }
    this.p[i] = next;
    if (n < LEARNING) this.n[i] = n + 1;
  }
}

export class RangeEncoder {
  #low = 0;
  #range = SPAN - 1;
  /** The byte waiting for a possible carry, and the 0xFF bytes after it (which a carry also turns). */
  #cache = 0;
  #pending = 0;
  /** The first byte the coder produces is always 0: it is not written. */
  #first = true;
  #out: Uint8Array;
  #length = 0;

  constructor(capacity = 64) {
    this.#out = new Uint8Array(capacity);
  }

  /** Codes `bit` with model `i` of `models`, and adapts it. The hot path of encoding on a node:
   *  locals, and the model's update written out rather than called. */
  bit(models: Models, i: number, bit: number): void {
    const p = models.p[i]!;
    const n = models.n[i]!;
    let range = this.#range;
    const bound = (range >>> 16) * p;
    let next;
    if (bit) {
      this.#low += bound;
      range -= bound;
      next = p - ((p * RATE[n]!) >> 16);
      models.p[i] = next < FLOOR ? FLOOR : next;
    } else {
      range = bound;
      next = p + (((0x10000 - p) * RATE[n]!) >> 16);
      models.p[i] = next > CEILING ? CEILING : next;
    }
    if (n < LEARNING) models.n[i] = n + 1;
    while (range < TOP) {
      range *= 256;
      this.#shift();
    }
    this.#range = range;
  }

  /** Codes `count` 1 bits with models first, first + 1, …: a unary run, in one call (on XS a
   *  call costs a fifth of a coded bit). bit() for a 1, written out in a loop. */
  ones(models: Models, first: number, count: number): void {
    const probabilities = models.p;
    const counts = models.n;
    let low = this.#low;
    let range = this.#range;
    let p = 0, n = 0, bound = 0, next = 0;
    for (let i = first, end = first + count; i < end; i++) {
      p = probabilities[i]!;
      n = counts[i]!;
      bound = (range >>> 16) * p;
      low += bound;
      range -= bound;
      next = p - ((p * RATE[n]!) >> 16);
      probabilities[i] = next < FLOOR ? FLOOR : next;
      if (n < LEARNING) counts[i] = n + 1;
      while (range < TOP) {
        range *= 256;
        this.#low = low;
        this.#shift();
        low = this.#low;
      }
    }
    this.#low = low;
    this.#range = range;
  }

  /** Codes the low `count` bits of `value` (count ≤ 31), most significant first, each at 1/2. */
  direct(value: number, count: number): void {
    let range = this.#range;
    for (let k = count - 1; k >= 0; k--) {
      range >>>= 1;
      if ((value >>> k) & 1) this.#low += range;
      while (range < TOP) {
        range *= 256;
        this.#shift();
      }
    }
    this.#range = range;
  }

  /** Ends the stream at the value in range with the most trailing zero bytes; returns the bytes. */
  finish(): Uint8Array {
    for (let unit = SPAN; unit >= 1; unit /= 256) {
      const value = Math.ceil(this.#low / unit) * unit;
      if (value < this.#low + this.#range) {
        this.#low = value;
        break;
      }
    }
    for (let i = 0; i < 5; i++) this.#shift();
    // The last four bytes are that value's; the decoder reads zeros for those it is not sent.
    let end = this.#length;
    while (end > 0 && end > this.#length - 4 && this.#out[end - 1] === 0) end--;
    return this.#out.subarray(0, end);
  }

  #shift(): void {
    const low = this.#low;
    if (low < 0xff000000 || low >= SPAN) {
      const carry = low >= SPAN ? 1 : 0;
      if (this.#first) this.#first = false;
      else this.#put((this.#cache + carry) & 0xff);
      for (; this.#pending > 0; this.#pending--) this.#put((0xff + carry) & 0xff);
      // low < 2^33: the quotient is below 512, and & truncates it as floor would.
      this.#cache = (low / TOP) & 0xff;
    } else {
      this.#pending++;
    }
    this.#low = (low % TOP) * 256;
  }

  #put(byte: number): void {
    if (this.#length === this.#out.length) {
      const grown = new Uint8Array(this.#out.length * 2);
      grown.set(this.#out);
      this.#out = grown;
    }
    this.#out[this.#length++] = byte;
  }
}

export class RangeDecoder {
  #code = 0;
  #range = SPAN - 1;
  #at: number;

  /** Decodes the stream in `bytes` from `at` to the end. */
  constructor(readonly bytes: Uint8Array, at: number) {
    this.#at = at;
    for (let i = 0; i < 4; i++) this.#code = this.#code * 256 + this.#next();
  }

  /** Bytes read past the end of the stream: a whole stream needs at most the 4 zeros its encoder
   *  leaves out, so more means the message was cut short. */
  get overrun(): number {
    return Math.max(0, this.#at - this.bytes.length);
  }

  bit(models: Models, i: number): number {
    const bound = (this.#range >>> 16) * models.p[i]!;
    let bit: number;
    if (this.#code < bound) {
      this.#range = bound;
      bit = 0;
    } else {
      this.#code -= bound;
      this.#range -= bound;
      bit = 1;
    }
    models.update(i, bit);
    this.#normalise();
    return bit;
  }

  direct(count: number): number {
    let value = 0;
    for (let k = 0; k < count; k++) {
      this.#range >>>= 1;
      let bit = 0;
      if (this.#code >= this.#range) {
        this.#code -= this.#range;
        bit = 1;
      }
      value = value * 2 + bit;
      this.#normalise();
    }
    return value;
  }

  #normalise(): void {
    while (this.#range < TOP) {
      this.#range *= 256;
      this.#code = this.#code * 256 + this.#next();
    }
  }

  #next(): number {
    return this.bytes[this.#at++] ?? 0;
  }
}
