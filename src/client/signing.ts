/**
 * OVH's request signature, the one piece of signing code shared by the CLI, the tests and the web
 * console (bundled for the browser):
 *   "$1$" + sha1hex(AS + "+" + CK + "+" + METHOD + "+" + URL + "+" + BODY + "+" + TIMESTAMP)
 * SHA-1 is written out here rather than taken from `node:crypto` or Web Crypto: Web Crypto's
 * digest exists only in secure contexts (HTTPS or localhost), and a console opened over plain
 * HTTP from another host must still sign. It is a hash of a public formula, not a secret-keyed
 * primitive, so a small portable implementation is enough.
 */

export interface SignatureInput {
  readonly secret: string;
  readonly consumerKey: string;
  readonly method: string;
  /** The full URL, query string included, as the request is sent. */
  readonly url: string;
  /** The exact body text ('' when none). */
  readonly body: string;
  readonly timestamp: number | string;
}

/** The string whose SHA-1 is the signature (it contains the secrets: never show it as is). */
export function signaturePayload(input: SignatureInput): string {
  const { secret, consumerKey, method, url, body, timestamp } = input;
  return `${secret}+${consumerKey}+${method}+${url}+${body}+${timestamp}`;
}

/** Computes a signature as OVH's clients do. */
export function signRequest(input: SignatureInput): string {
  return `$1$${sha1Hex(signaturePayload(input))}`;
}

/** SHA-1 (FIPS 180-4) of the UTF-8 encoding of `text`, as lowercase hex. */
export function sha1Hex(text: string): string {
  const bytes = new TextEncoder().encode(text);
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  const length = Math.ceil((bytes.length + 9) / 64) * 64;
  const padded = new Uint8Array(length);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = bytes.length * 8;
  view.setUint32(length - 8, Math.floor(bits / 2 ** 32));
  view.setUint32(length - 4, bits >>> 0);

  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let block = 0; block < length; block += 64) {
    for (let t = 0; t < 16; t += 1) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t += 1) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t += 1) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) >>> 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  return [h0, h1, h2, h3, h4].map((word) => word.toString(16).padStart(8, '0')).join('');
}
