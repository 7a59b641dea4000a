import { fnv1a } from "./fnv.ts";

/**
 * A compact membership filter of the users who hold a coupon of an event. The object builds it
 * once the set of holders is final (sold out or ended); the edge asks it before refusing a
 * claim. "No" is certain, so a holder is never refused; "maybe" goes to the object.
 *
 * Up to FINGERPRINT_LIMIT holders it is the sorted 32-bit hashes of their ids (4 bytes each, a
 * non-holder is a "maybe" with odds n / 2^32: about one in a million at 5,000 holders); beyond,
 * a Bloom filter of ~1% false positives at 1.2 bytes per holder, capped at 1 MiB.
 */
export type HoldersFilter =
  | { kind: "fingerprints"; hashes: string }
  | { kind: "bloom"; m: number; k: number; bits: string };

const FINGERPRINT_LIMIT = 100_000;
const BITS_PER_ITEM = 9.6;
const HASHES = 7;
const MAX_BITS = 8 * 1024 * 1024;

export function buildHoldersFilter(ids: Iterable<string>, count: number): HoldersFilter {
  if (count <= FINGERPRINT_LIMIT) {
    const hashes: number[] = [];
    for (const id of ids) hashes.push(fnv1a(id));
    const sorted = Uint32Array.from(hashes).sort();
    return { kind: "fingerprints", hashes: toBase64(new Uint8Array(sorted.buffer)) };
  }
  const m = Math.min(MAX_BITS, Math.ceil(count * BITS_PER_ITEM));
  const bytes = new Uint8Array(Math.ceil(m / 8));
  for (const id of ids) {
    for (const bit of bloomPositions(id, m, HASHES)) {
      bytes[bit >>> 3] = (bytes[bit >>> 3] ?? 0) | (1 << (bit & 7));
    }
  }
  return { kind: "bloom", m, k: HASHES, bits: toBase64(bytes) };
}

/** A decoded filter, kept per isolate. */
export class HoldersSet {
  readonly #filter: HoldersFilter;
  readonly #bytes: Uint8Array;
  readonly #hashes: Uint32Array;

  constructor(filter: HoldersFilter) {
    this.#filter = filter;
    this.#bytes = fromBase64(filter.kind === "bloom" ? filter.bits : filter.hashes);
    this.#hashes =
      filter.kind === "fingerprints"
        ? new Uint32Array(this.#bytes.buffer, 0, this.#bytes.length >>> 2)
        : new Uint32Array(0);
  }

  /** The decoded filter's size, for the isolate's memory budget. */
  get bytes(): number {
    return this.#bytes.length;
  }

  /** False only when `id` certainly holds no coupon. */
  mightHold(id: string): boolean {
    const f = this.#filter;
    if (f.kind === "fingerprints") return binarySearch(this.#hashes, fnv1a(id));
    for (const bit of bloomPositions(id, f.m, f.k)) {
      if (((this.#bytes[bit >>> 3] ?? 0) & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }
}

function binarySearch(sorted: Uint32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = sorted[mid] ?? 0;
    if (at === value) return true;
    if (at < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Double hashing (Kirsch-Mitzenmacher) over two differently seeded FNV-1a hashes. */
function bloomPositions(id: string, m: number, k: number): number[] {
  const h1 = fnv1a(id);
  const h2 = fnv1a(id, 0x9747b28c) | 1;
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(((h1 + Math.imul(i, h2)) >>> 0) % m);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(b64: string): Uint8Array {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
