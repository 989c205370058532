// On-disk layout of the event log: segments named by their first sequence number, one
// record a line as `<crc32 hex> <json>\n`. A torn last line (crash mid-write) fails its CRC and
// is cut off at recovery; it was never acknowledged, because acknowledgement waits for fsync.
import { crc32 } from 'node:zlib';
import { readdirSync, openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredEvent } from '../domain/records.js';

export const SEGMENT_RE = /^seg-(\d{16})\.log$/;

export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

export function listSegments(dir: string): { firstSeq: number; path: string }[] {
  return readdirSync(dir)
    .map((n) => SEGMENT_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ firstSeq: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

export function encodeRecord(r: StoredEvent): string {
  const json = JSON.stringify(r);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Parses one line; undefined when it is torn or corrupt. */
export function decodeLine(line: string): StoredEvent | undefined {
  if (line.length < 10 || line[8] !== ' ') return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    return JSON.parse(json) as StoredEvent;
  } catch {
    return undefined;
  }
}

/**
 * Reads complete, valid records from `path` starting at byte `offset`, at most `maxBytes` of file.
 * Returns the records and the offset just past the last complete line read.
 */
export function readRecords(path: string, offset: number, maxBytes: number, limitEnd?: number): { records: StoredEvent[]; ends: number[]; next: number; corruptAt?: number } {
  const fd = openSync(path, 'r');
  try {
    const size = Math.min(fstatSync(fd).size, limitEnd ?? Infinity);
    const len = Math.max(0, Math.min(maxBytes, size - offset));
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    const records: StoredEvent[] = [];
    const ends: number[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0 || nl >= got) break;
      const rec = decodeLine(buf.toString('utf8', start, nl));
      if (!rec) return { records, ends, next: offset + start, corruptAt: offset + start };
      records.push(rec);
      start = nl + 1;
      ends.push(offset + start);
    }
    // A single record longer than maxBytes would stall the reader: report it as corrupt.
    if (start === 0 && got === maxBytes && got > 0) return { records, ends, next: offset, corruptAt: offset };
    return { records, ends, next: offset + start };
  } finally {
    closeSync(fd);
  }
}
