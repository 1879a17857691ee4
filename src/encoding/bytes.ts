// Little-endian cursor over a byte range, for the retained-state layout. Reads past the end throw a
// RangeError, which the state loader turns into "corrupt block" rather than a crash.

export class ByteWriter {
  #view: DataView;
  offset = 0;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #room(n: number): number {
    const at = this.offset;
    if (at + n > this.bytes.length) throw new RangeError(`retained state needs more than ${this.bytes.length} bytes`);
    this.offset += n;
    return at;
  }

  u8(v: number): void { this.#view.setUint8(this.#room(1), v); }
  u16(v: number): void { this.#view.setUint16(this.#room(2), v, true); }
  u32(v: number): void { this.#view.setUint32(this.#room(4), v, true); }
  i32(v: number): void { this.#view.setInt32(this.#room(4), v, true); }
  f64(v: number): void { this.#view.setFloat64(this.#room(8), v, true); }
  raw(v: Uint8Array): void { this.bytes.set(v, this.#room(v.length)); }
}

export class ByteReader {
  #view: DataView;
  offset = 0;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(n: number): number {
    const at = this.offset;
    if (at + n > this.bytes.length) throw new RangeError("retained state ends early");
    this.offset += n;
    return at;
  }

  u8(): number { return this.#view.getUint8(this.#take(1)); }
  u16(): number { return this.#view.getUint16(this.#take(2), true); }
  u32(): number { return this.#view.getUint32(this.#take(4), true); }
  i32(): number { return this.#view.getInt32(this.#take(4), true); }
  f64(): number { return this.#view.getFloat64(this.#take(8), true); }
  raw(n: number): Uint8Array { const at = this.#take(n); return this.bytes.subarray(at, at + n); }
}
