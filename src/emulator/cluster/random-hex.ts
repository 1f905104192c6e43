/**
 * Random hex drawn from a pool refilled a few KiB at a time: the controllers and kubelets name
 * things (Event suffixes, container IDs) many times per rollout, and one call into the CSPRNG each
 * cost more than the rest of the naming.
 */
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let drawn = 0;

/** `bytes` random bytes (at most POOL_BYTES) as hex. */
export function randomHex(bytes: number): string {
  if (drawn + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    drawn = 0;
  }
  drawn += bytes;
  return pool.toString('hex', drawn - bytes, drawn);
}
