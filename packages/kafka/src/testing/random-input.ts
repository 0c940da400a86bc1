/** Deterministic inputs for the encoders' unit tests: the same every run, from one seed. */

/** A small deterministic generator (mulberry32): numbers in [0, 1). */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters of one to four UTF-8 bytes, and JSON's specials. */
const ALPHABET = ['a', 'Z', '0', '"', '{', 'é', '€', '日', '😀', ' '];

/** Text of up to `max` characters drawn with `next`. */
export const text = (next: () => number, max: number): string =>
  Array.from({ length: Math.floor(next() * max) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
