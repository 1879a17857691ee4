// An image as the messages that offer it: its chunks, each its SHA-256 then its bytes, and the
// signed offer, all retained under `<prefix>/update/<id>/` (docs/updates.md). The chunks come first
// in the list, so a node never sees an offer whose chunks are not on the broker yet.

import * as crypto from "node:crypto";
import { toHex } from "../../src/encoding/hex";
import { imageIdentity } from "./identity";
import { MAX_CHUNK_BYTES, MAX_IMAGE_BYTES, MIN_CHUNK_BYTES, type Offer } from "../../src/update/offer";

/** `update offer`'s chunk size unless `--chunk` says otherwise: a few PUBLISHes fill a 16 KB wake. */
export const DEFAULT_CHUNK_BYTES = 2048;

export interface OfferOptions {
  prefix: string;
  /** Addressees; empty: the whole fleet under the prefix. */
  nodes: string[];
  chunk: number;
  battery: number;
  downgrade: boolean;
  /** The firmware's version, for an image that does not carry one torpor reads (an ESP32 firmware). */
  version?: string | undefined;
}

export interface Message {
  topic: string;
  payload: Buffer;
}

export function offerMessages(image: Buffer, key: crypto.KeyObject, o: OfferOptions): { offer: Offer; messages: Message[] } {
  if (image.length === 0 || image.length > MAX_IMAGE_BYTES) throw new Error(`--image of ${image.length} bytes: an image is 1 to ${MAX_IMAGE_BYTES} bytes`);
  if (!Number.isInteger(o.chunk) || o.chunk < MIN_CHUNK_BYTES || o.chunk > MAX_CHUNK_BYTES) throw new Error(`--chunk must be ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES} bytes`);
  const header = imageIdentity(image, o.version);
  const sha256 = crypto.createHash("sha256").update(image).digest("hex");
  const offer: Offer = { id: sha256.slice(0, 16), version: header.version, size: image.length, sha256, chunk: o.chunk, board: header.board, battery: o.battery, downgrade: o.downgrade };
  if (o.nodes.length) offer.nodes = o.nodes;
  const base = `${o.prefix}/update/${offer.id}`;
  const messages: Message[] = [];
  for (let i = 0, at = 0; at < image.length; i++, at += o.chunk) {
    const data = image.subarray(at, at + o.chunk);
    messages.push({ topic: `${base}/${i}`, payload: Buffer.concat([crypto.createHash("sha256").update(data).digest(), data]) });
  }
  const text = JSON.stringify(offer);
  messages.push({ topic: `${base}/offer`, payload: Buffer.from(JSON.stringify({ offer: text, sig: signOffer(text, key) })) });
  return { offer, messages };
}

/** The offer's signature: ECDSA P-256 over SHA-256 of its exact text, r‖s in hex. */
export function signOffer(text: string, key: crypto.KeyObject): string {
  return toHex(crypto.sign("sha256", Buffer.from(text), { key, dsaEncoding: "ieee-p1363" }));
}
