// The key an address is counted under by the per-address limits: an IPv4 address as it is (also
// when it arrives IPv4-mapped, ::ffff:a.b.c.d, or in the IPv4-compatible notation ::a.b.c.d), an
// IPv6 address by its /56 prefix ("2001:db8:1:2300::/56"), since one home is usually given a
// /56 or larger and can otherwise pick a fresh address for every attempt.
import { isIPv4, isIPv6 } from 'node:net';

const PREFIX_BITS = 56;

/** The eight 16-bit groups of an IPv6 address (valid per isIPv6, zone id removed). */
function groups(ip: string): number[] {
  let text = ip;
  const colon = text.lastIndexOf(':');
  if (text.indexOf('.', colon) > colon) {
    // A dotted IPv4 tail becomes the last two groups.
    const [a, b, c, d] = text.slice(colon + 1).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const gap = text.indexOf('::');
  if (gap < 0) return parse(text);
  const left = parse(text.slice(0, gap));
  const right = parse(text.slice(gap + 2));
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function format(g: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function addressKey(ip: string): string {
  const bare = ip.includes('%') ? ip.slice(0, ip.indexOf('%')) : ip;
  if (isIPv4(bare) || !isIPv6(bare)) return ip;
  const g = groups(bare);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const compatible = bare.includes('.') && g.slice(0, 6).every((x) => x === 0);
  if (mapped || compatible) return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  const masked = g.map((x, i) => {
    const bits = Math.min(16, Math.max(0, PREFIX_BITS - i * 16));
    return bits === 16 ? x : bits === 0 ? 0 : x & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${format(masked)}/${PREFIX_BITS}`;
}
