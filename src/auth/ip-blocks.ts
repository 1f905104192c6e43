/**
 * Allowed IPs of a consumer key: OVH's `ipBlock` values, an address (`192.0.2.7`, `2001:db8::1`)
 * or a CIDR block (`192.0.2.0/24`). Matching uses node's BlockList, which also matches an IPv4
 * client seen as `::ffff:192.0.2.7` on a dual-stack socket once it is unwrapped here.
 */
import net from 'node:net';

export type IpMatcher = (ip: string | undefined) => boolean;

/** Most blocks a key may list: enough for any real use, small enough to check on every call. */
export const MAX_ALLOWED_IPS = 32;

/** Why `block` is not an IP block, or undefined when it is one. */
export function ipBlockProblem(block: string): string | undefined {
  const [address, prefix, extra] = block.split('/');
  const family = net.isIP(address ?? '');
  if (family === 0 || extra !== undefined)
    return `'${block}' is not an IP address or CIDR block such as 192.0.2.0/24`;
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
  if (!(bits >= 0 && bits <= (family === 4 ? 32 : 128))) {
    return `'${block}': the prefix length must be 0 to ${family === 4 ? 32 : 128}`;
  }
  return undefined;
}

/** Every problem in a list of blocks, with its position (`allowedIPs[2]: …`). */
export function allowedIpsProblems(blocks: readonly string[], field = 'allowedIPs'): string[] {
  const problems = blocks.flatMap((block, index) => {
    const problem = ipBlockProblem(block);
    return problem === undefined ? [] : [`${field}[${index}]: ${problem}`];
  });
  if (blocks.length > MAX_ALLOWED_IPS) problems.push(`${field}: at most ${MAX_ALLOWED_IPS} blocks`);
  return problems;
}

export function compileAllowedIps(blocks: readonly string[] | null): IpMatcher {
  if (blocks === null || blocks.length === 0) return () => true;
  const list = new net.BlockList();
  for (const block of blocks) {
    const [address = '', prefix] = block.split('/');
    const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return (ip) => {
    if (ip === undefined) return false;
    const unwrapped = ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
    const family = net.isIP(unwrapped);
    return family !== 0 && list.check(unwrapped, family === 6 ? 'ipv6' : 'ipv4');
  };
}
