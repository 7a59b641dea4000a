const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * An opaque, unguessable coupon id: `cpn_` + 22 base62 characters from the platform CSPRNG
 * (about 131 bits), so ids leak neither order, count nor event.
 */
export function newCouponId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  let id = "cpn_";
  for (const byte of bytes) {
    // 62 * 4 = 248: rejecting bytes >= 248 would remove the tiny bias; a 2^-5 skew on one
    // symbol out of 62 costs < 0.1 bit of the 131, so plain modulo is kept for speed.
    id += ALPHABET[byte % 62];
  }
  return id;
}
