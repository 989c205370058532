// Draws icon.png (128x128) and logo.png (250x100): a teal shield with a white heart.
// Plain zlib PNG encoding so it needs no image tools. Run: node scripts/make-icons.mjs
import { deflateSync, crc32 } from 'node:zlib';
import { writeFileSync } from 'node:fs';

function png(w, h, pixel) {
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 4 + 1)] = 0;
    for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (w * 4 + 1) + 1 + x * 4);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 6;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// Heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, in unit coordinates.
const heart = (u, v) => (u * u + v * v - 1) ** 3 - u * u * v ** 3 <= 0;
const teal = [0, 137, 123, 255], white = [255, 255, 255, 255], clear = [0, 0, 0, 0];
function badge(cx, cy, r) {
  return (x, y) => {
    const dx = (x - cx) / r, dy = (y - cy) / r;
    if (dx * dx + dy * dy > 1) return null;
    return heart(dx * 1.7, -dy * 1.7 + 0.25) ? white : teal;
  };
}
const icon = badge(64, 64, 62);
writeFileSync(new URL('../icon.png', import.meta.url), png(128, 128, (x, y) => icon(x, y) ?? clear));
const logoBadge = badge(50, 50, 46);
// A few bars to the right suggest signal/activity without needing a font.
writeFileSync(new URL('../logo.png', import.meta.url), png(250, 100, (x, y) => {
  const b = logoBadge(x, y);
  if (b) return b;
  const bars = [[112, 62], [134, 44], [156, 28], [178, 44], [200, 58], [222, 66]];
  for (const [bx, top] of bars) if (x >= bx && x < bx + 14 && y >= top && y < 84) return teal;
  return clear;
}));
