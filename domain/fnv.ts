/** FNV-1a (32-bit) over a string's UTF-16 units: a stable, fast, non-cryptographic hash. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
