import { createLogger, type Logger } from '@strata/telemetry';
import { Writable } from 'node:stream';

/** A real pino logger whose JSON lines are kept in memory, so tests can assert what was logged. */
export function memoryLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ service: 'test', region: 'test', nodeId: 'test-1', level: 'debug', destination });
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
