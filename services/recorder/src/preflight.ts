import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
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

/**
 * RECORDER_RTP_HOST as the IPv4 address the recorder binds and media nodes send to. A hostname is
 * resolved once at start: in a compose network or a pod the recorder knows its own name (or
 * `status.podIP`), not an address fixed in advance.
 */
export async function rtpAddress(
  host: string,
  resolve: (name: string) => Promise<{ address: string }> = (name) => lookup(name, { family: 4 }),
): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await resolve(host)).address;
  } catch (err) {
    throw new Error(`RECORDER_RTP_HOST: cannot resolve "${host}" to an IPv4 address (${err instanceof Error ? err.message : String(err)})`);
  }
}
