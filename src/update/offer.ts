// An update offer as it arrives on `<prefix>/update/<id>/offer`: read, its signature checked, then
// judged against the node that received it. Everything in it is untrusted until the signature
// verifies, and bounded after: an offer can never make the node stage more than MAX_IMAGE_BYTES or
// take a chunk larger than its packet limit allows.

import { nestedDeeperThan } from "../encoding/json-depth";
import { utf8Decode, utf8Encode } from "../encoding/utf8";
import type { UpdateHost } from "./capability";
import { fromHex } from "../encoding/hex";
import { compareSemver, isSemver } from "./semver";

export const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
/** Chunk sizes an offer may ask: the largest keeps a chunk's PUBLISH (topic, digest) within the
 *  node's 4 KB packet limit (MAXIMUM_PACKET_SIZE). */
export const MIN_CHUNK_BYTES = 256;
export const MAX_CHUNK_BYTES = 3072;
/** Bytes of SHA-256 before each chunk's own bytes. */
export const DIGEST_BYTES = 32;
/** Longest offer message read: a few hundred node names at most. */
export const MAX_OFFER_BYTES = 3500;

export interface Offer {
  id: string;
  version: string;
  size: number;
  /** SHA-256 of the whole image, hex. */
  sha256: string;
  chunk: number;
  board: string;
  /** Lowest battery reading (mV) at which chunks are taken; 0: no minimum. */
  battery: number;
  /** Addressees; undefined: every node under the prefix. */
  nodes?: string[];
  downgrade: boolean;
}

/** What the node knows of itself when it judges an offer. */
export interface Judge {
  host: UpdateHost;
  key: Uint8Array;
  node: string;
}

/** Judged: take it, ignore it quietly (not for this node, already running), or refuse it (counted). */
export type Verdict = { take: Offer } | { ignore: string } | { refuse: string; id: string };

/** The `<id>` of an offer topic, as the offer's own id must repeat it. */
export function judgeOffer(idFromTopic: string, payload: Uint8Array, judge: Judge): Verdict {
  const refuse = (why: string): Verdict => ({ refuse: why, id: idFromTopic });
  if (payload.length > MAX_OFFER_BYTES) return refuse(`offer of ${payload.length} bytes`);
  let envelope: unknown;
  try {
    const text = utf8Decode(payload);
    if (nestedDeeperThan(text, 3)) return refuse("offer nested too deep");
    envelope = JSON.parse(text);
  } catch {
    return refuse("offer is not JSON");
  }
  if (!isRecord(envelope) || typeof envelope.offer !== "string" || typeof envelope.sig !== "string") return refuse('offer is not {"offer": "…", "sig": "…"}');
  const signature = fromHex(envelope.sig, 64);
  if (!signature || !judge.host.verify(judge.key, utf8Encode(envelope.offer), signature)) return refuse("bad signature");
  let fields: unknown;
  try {
    if (nestedDeeperThan(envelope.offer, 3)) return refuse("offer nested too deep");
    fields = JSON.parse(envelope.offer);
  } catch {
    return refuse("signed offer is not JSON");
  }
  const offer = readOffer(fields);
  if (typeof offer === "string") return refuse(offer);
  if (offer.id !== idFromTopic) return refuse(`offer id ${offer.id} on the topic of ${idFromTopic}`);
  if (offer.nodes && !offer.nodes.includes(judge.node)) return { ignore: "for other nodes" };
  if (offer.board !== judge.host.board) return refuse(`for board ${offer.board}, not ${judge.host.board}`);
  const order = compareSemver(offer.version, judge.host.version);
  if (order === 0) return { ignore: `version ${offer.version} already runs` };
  if (order < 0 && !offer.downgrade) return refuse(`version ${offer.version} is older than ${judge.host.version}`);
  // The offer stays retained after its image failed here: taking it again would fetch the whole
  // image and fail again, every time, at the battery's cost. A fixed build comes as a new version.
  if (offer.version === judge.host.rolledBack) return refuse(`version ${offer.version} was rolled back here`);
  return { take: offer };
}

/** The offer's fields checked one by one; a string says what is wrong. */
function readOffer(v: unknown): Offer | string {
  if (!isRecord(v)) return "offer is not an object";
  const { id, version, size, sha256, chunk, board, battery, nodes, downgrade } = v;
  if (typeof id !== "string" || !/^[0-9a-f]{16}$/.test(id)) return "offer id is not 16 hex digits";
  if (typeof version !== "string" || !isSemver(version)) return "version is not semver";
  if (!isInteger(size) || size < 1 || size > MAX_IMAGE_BYTES) return `size is not 1 to ${MAX_IMAGE_BYTES} bytes`;
  if (typeof sha256 !== "string" || !fromHex(sha256, 32)) return "sha256 is not 64 lowercase hex digits";
  if (!isInteger(chunk) || chunk < MIN_CHUNK_BYTES || chunk > MAX_CHUNK_BYTES) return `chunk is not ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES} bytes`;
  if (typeof board !== "string" || board.length === 0 || board.length > 32) return "board is not a name";
  if (battery !== undefined && (!isInteger(battery) || battery < 0 || battery > 100_000)) return "battery is not millivolts";
  if (nodes !== undefined && (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => typeof n === "string"))) return "nodes is not a list of names";
  if (downgrade !== undefined && typeof downgrade !== "boolean") return "downgrade is not true or false";
  const offer: Offer = { id, version, size, sha256: sha256.toLowerCase(), chunk, board, battery: battery ?? 0, downgrade: downgrade ?? false };
  if (nodes !== undefined) offer.nodes = nodes as string[];
  return offer;
}

export function chunkCount(offer: Offer): number {
  return Math.ceil(offer.size / offer.chunk);
}

/** Bytes chunk `index` must have. */
export function chunkLength(offer: Offer, index: number): number {
  return Math.min(offer.chunk, offer.size - index * offer.chunk);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}
