/**
 * IP restrictions of a cluster's Kubernetes API (OVH's `ipBlock[]`): parsing and checking CIDRs,
 * pure. An empty list allows every address; otherwise a caller's address must fall in one block.
 * mks's own control plane (the reconciler, with the system token) is not subject to them, as OVH's
 * is not.
 */

import net from 'node:net';
import { BoundedMap } from '../bounded-map.ts';
import { invalid } from '../errors.ts';

export const MAX_IP_RESTRICTIONS = 100;

interface Block {
  readonly bytes: Buffer;
  readonly prefix: number;
}

/**
 * The canonical form of `text`, an IPv4 or IPv6 address with an optional prefix length: an
 * address alone is a /32 (/128), and host bits must be zero (`10.0.0.1/8` is refused, as OVH's
 * ipBlock type refuses it). Undefined when it is not one.
 */
export function canonicalBlock(text: string): string | undefined {
  const [address, prefixText, extra] = text.split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const family = net.isIP(address);
  if (family === 0) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  const bytes = addressBytes(address);
  if (!hostBitsZero(bytes, prefix)) return undefined;
  // WHATWG URL parsing writes an IPv6 address in its canonical (RFC 5952) form.
  return `${family === 4 ? address : new URL(`http://[${address}]/`).hostname.slice(1, -1)}/${prefix}`;
}

/**
 * `ips` without duplicates (the same block however written: the first spelling is kept, and
 * echoed as given, so a Terraform configuration re-plans clean); a bad one is refused with its reason.
 */
export function validBlocks(ips: readonly string[], field = 'ips'): string[] {
  const blocks: string[] = [];
  const seen = new Set<string>();
  for (const ip of ips) {
    const block = canonicalBlock(ip);
    if (block === undefined) {
      throw invalid(
        `${field}: '${ip}' is not an IP block: an IPv4 or IPv6 address, with an optional /prefix and no host bits set (e.g. 203.0.113.0/24)`,
      );
    }
    if (seen.has(block)) continue;
    seen.add(block);
    blocks.push(ip);
  }
  if (blocks.length > MAX_IP_RESTRICTIONS) {
    throw invalid(`${field}: ${blocks.length} blocks; a cluster takes at most ${MAX_IP_RESTRICTIONS}`);
  }
  return blocks;
}

/** Whether `address` (as a socket reports it, IPv4-mapped IPv6 included) is allowed by `blocks`. */
export function isAllowed(blocks: readonly string[], address: string): boolean {
  if (blocks.length === 0) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  if (net.isIP(ip) === 0) return false;
  const bytes = addressBytes(ip);
  return blocks.some((text) => {
    const block = parsed(text);
    return block.bytes.length === bytes.length && inBlock(block, bytes);
  });
}

const PARSED = new BoundedMap<string, Block>(10_000);

/** A stored (valid) block, parsed once: every call of the Kubernetes API checks the list. */
function parsed(text: string): Block {
  let block = PARSED.get(text);
  if (block === undefined) {
    const [address, prefix] = (canonicalBlock(text) ?? text).split('/');
    block = { bytes: addressBytes(address!), prefix: Number(prefix) };
    PARSED.set(text, block);
  }
  return block;
}

function inBlock(block: Block, bytes: Buffer): boolean {
  const whole = Math.floor(block.prefix / 8);
  if (!bytes.subarray(0, whole).equals(block.bytes.subarray(0, whole))) return false;
  const rest = block.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (block.bytes[whole]! & mask);
}

function hostBitsZero(bytes: Buffer, prefix: number): boolean {
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if ((bytes[Math.floor(bit / 8)]! >> (7 - (bit % 8))) & 1) return false;
  }
  return true;
}

function addressBytes(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':'));
  let left = groups(head);
  let right = groups(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const expand = (parts: string[]) =>
    parts.flatMap((part) => {
      if (!part.includes('.')) return [part];
      const [a, b, c, d] = part.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  left = expand(left);
  right = expand(right);
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  const all = [...left, ...zeros, ...right];
  const bytes = Buffer.alloc(16);
  for (const [index, group] of all.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  return bytes;
}
