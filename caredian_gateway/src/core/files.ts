import { mkdirSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync, chmodSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

let tmpCounter = 0;
/** A temp name no other write (sync or async, this process or another) uses at the same time. */
const tmpName = (path: string) => `${path}.tmp-${process.pid}-${++tmpCounter}`;

/** No space left (ENOSPC) or over quota (EDQUOT): the disk is full, not broken; retry when there is room. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Writes a file so that readers see either the old or the new content, never a torn one. On any
 * failure (a full disk above all) the old content stays and the temp file is removed.
 */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  try {
    writeFileSync(tmp, data, { mode });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
  fsyncDir(dirname(path));
}

/** Best effort: the caller is already reporting the error that matters. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    /* nothing more to do */
  }
}

export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported on every platform */
  }
}

/** writeFileAtomic without blocking the event loop (for periodic state saves on hot paths). */
export async function writeFileAtomicAsync(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  await atomicAsync(path, data, mode);
}

/**
 * writeFileAtomicAsync for a file that synchronous saves write too: the rename happens on the
 * event loop, and only if `stillWanted()` still answers true once the temp file is on disk, so a
 * synchronous save made meanwhile is never overwritten by this older content. False when dropped.
 */
export function writeFileAtomicAsyncUnlessStale(path: string, data: string | Buffer, mode: number, stillWanted: () => boolean): Promise<boolean> {
  return atomicAsync(path, data, mode, stillWanted);
}

async function atomicAsync(path: string, data: string | Buffer, mode: number, stillWanted?: () => boolean): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  try {
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (stillWanted && !stillWanted()) {
      await rm(tmp, { force: true });
      return false;
    }
    if (stillWanted) renameSync(tmp, path);
    else await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    /* not supported on every platform */
  } finally {
    await dir.close();
  }
  return true;
}

/**
 * Whether `bytes` more fit on the file system of `dir`: writes and syncs a probe file there and
 * removes it. False only for a full disk; other errors are thrown.
 */
export async function hasFreeSpace(dir: string, bytes: number): Promise<boolean> {
  const path = join(dir, `.space-probe-${process.pid}`);
  try {
    const fh = await open(path, 'w', 0o600);
    try {
      await fh.writeFile(Buffer.alloc(bytes));
      await fh.sync();
    } finally {
      await fh.close();
    }
    return true;
  } catch (e) {
    if (isDiskFull(e)) return false;
    throw e;
  } finally {
    await rm(path, { force: true }).catch(() => undefined);
  }
}
