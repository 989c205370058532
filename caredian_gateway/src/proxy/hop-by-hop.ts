// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: the standard set
// plus every header a message's own Connection field names. A proxy must not pass them on.

const STANDARD = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/** The lower-case names not to pass on from a message with this Connection field. */
export function hopByHopNames(connection: string | string[] | undefined): ReadonlySet<string> {
  if (connection === undefined) return STANDARD;
  const names = new Set(STANDARD);
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) names.add(name);
    }
  }
  return names;
}
