// Which paths /proxy/<name>/<rest> may forward. The rest goes upstream exactly as sent (the client
// signed those bytes), appended to the upstream's base path, so it must mean the same thing to
// every server behind us however often it decodes it: at no depth of percent-decoding may it hold
// a `.` or `..` segment (also as `..;param`), a backslash, an encoded slash or a control character.
// Nothing is resolved or re-encoded here; a path that would need that is refused.

export type PathCheck = { ok: true } | { ok: false; why: string };

const OK: PathCheck = { ok: true };
const bad = (why: string): PathCheck => ({ ok: false, why });

/** Printable ASCII only; everything else must arrive percent-encoded. */
const RAW_CHARS = /^[\x21-\x7e]*$/;
const MALFORMED_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const ESCAPE = /%[0-9A-Fa-f]{2}/g;
const CONTROL_OR_BACKSLASH = /[\x00-\x1f\x7f\\]/;
/** Decoding levels looked through; a path still changing after that is refused outright. */
const MAX_DEPTH = 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Checks `rest` (empty or starting with "/", without the query) as received on the wire. */
export function checkForwardPath(rest: string): PathCheck {
  if (!RAW_CHARS.test(rest)) return bad('the path may contain only printable ASCII; percent-encode the rest');
  if (rest.includes('#')) return bad('the path may not contain "#"');
  if (MALFORMED_ESCAPE.test(rest)) return bad('"%" must start a two-digit hex escape');
  const slashes = count(rest, '/');
  let s = rest;
  for (let depth = 0; ; depth++) {
    if (CONTROL_OR_BACKSLASH.test(s)) return bad('the path may not contain a backslash or a control character, also percent-encoded');
    if (count(s, '/') !== slashes) return bad('the path may not contain an encoded slash');
    if (s.split('/').some(isDotSegment)) return bad('the path may not contain "." or ".." segments, also percent-encoded');
    const next = decodeLatin1(s);
    if (next === s) return OK;
    // Overlong forms such as %c0%ae ("." to some decoders) are not UTF-8.
    if (depth === 0 && !isUtf8(next)) return bad('percent-encoded bytes must be UTF-8');
    if (depth === MAX_DEPTH) return bad('too many levels of percent-encoding');
    s = next;
  }
}

function isDotSegment(seg: string): boolean {
  const name = seg.split(';', 1)[0];
  return name === '.' || name === '..';
}

/** One level of percent-decoding, byte for character, so every byte stays visible to the checks. */
function decodeLatin1(s: string): string {
  return s.replace(ESCAPE, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
}

function isUtf8(latin1: string): boolean {
  try {
    utf8.decode(Buffer.from(latin1, 'latin1'));
    return true;
  } catch {
    return false;
  }
}

function count(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i >= 0; i = s.indexOf(ch, i + 1)) n++;
  return n;
}
