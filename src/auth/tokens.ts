/** Random tokens and hashes of the auth layer (keys, secrets, validation links). */
import crypto from 'node:crypto';

export const sha256 = (text: string): string => crypto.createHash('sha256').update(text).digest('hex');

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A random token in OVH's style (application keys: 16, secrets and consumer keys: 32). */
export function randomToken(length: number): string {
  const bytes = crypto.randomBytes(length);
  let token = '';
  // 256 is not a multiple of 62: rejection sampling would be exact, but the bias of `% 62` on
  // 32-character secrets is far below anything that weakens them; keep it simple.
  for (const byte of bytes) token += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return token;
}
