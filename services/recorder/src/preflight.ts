import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The ffmpeg version line, or throws with a message an operator can act on. */
export async function ffmpegVersion(bin: string): Promise<string> {
  try {
    const { stdout } = await run(bin, ['-hide_banner', '-version'], { timeout: 10_000 });
    return (stdout.split('\n')[0] ?? '').trim();
  } catch (err) {
    throw new Error(`FFMPEG_BIN: cannot run "${bin}" (${err instanceof Error ? err.message : String(err)})`);
  }
}

export function ensureWritableDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  accessSync(dir, constants.W_OK);
}

export function isWritableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
