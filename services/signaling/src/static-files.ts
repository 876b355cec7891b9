import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** Loads the demo page's files once at start-up (a small fixed set); returns which were missing. */
export function loadStaticFiles(dir: string, names: readonly string[]): { files: Map<string, StaticFile>; missing: string[] } {
  const files = new Map<string, StaticFile>();
  const missing: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      missing.push(name);
      continue;
    }
    files.set(`/${name}`, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream' });
  }
  return { files, missing };
}
