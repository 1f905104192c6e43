/**
 * Console passwords: scrypt (node's, no native dependency) with a random 16-byte salt per
 * password, stored as `scrypt$N$r$p$salt$hash` so the cost can be raised later without breaking
 * older hashes. Verification is constant-time.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: string,
  salt: Buffer,
  length: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

/** N = 2^15, r = 8: about 30 MB and tens of milliseconds per hash, what OWASP suggests for scrypt. */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
/** Above N = 2^15 scrypt needs more than node's default 32 MB. */
const MAX_MEMORY = 128 * COST.N * COST.r * 2;

export const PASSWORD_MIN_LENGTH = 12;
/** Longer passwords only cost hashing time: refuse them before hashing. */
export const PASSWORD_MAX_LENGTH = 256;

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, KEY_LENGTH, { ...COST, maxmem: MAX_MEMORY });
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const N = Number(n);
  const cost = { N, r: Number(r), p: Number(p), maxmem: 128 * N * Number(r) * 2 };
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, cost);
  return crypto.timingSafeEqual(actual, expected);
}

/** A password for a new account: 20 characters of 57 unambiguous ones (about 116 bits). */
export function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  let password = '';
  for (let index = 0; index < 20; index += 1) password += alphabet[crypto.randomInt(alphabet.length)];
  return password;
}

/** Why a chosen password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_MIN_LENGTH)
    return `a password needs at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH)
    return `a password has at most ${PASSWORD_MAX_LENGTH} characters`;
  return undefined;
}
