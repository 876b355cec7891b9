import type { ServiceDefinition } from '@strata/service';
import { resolve } from 'node:path';
import { recorderConfig } from './config.js';
import { ensureWritableDir, ffmpegVersion, isWritableDir } from './preflight.js';

export const recorderService: ServiceDefinition<typeof recorderConfig> = {
  kind: 'recorder',
  version: '0.1.0',
  config: recorderConfig,
  async start({ config, log }) {
    const dir = resolve(config.RECORDER_DIR);
    ensureWritableDir(dir);
    const ffmpeg = await ffmpegVersion(config.FFMPEG_BIN);
    log.info({ dir, ffmpeg }, 'ffmpeg found and recording folder writable');
    return {
      health: () => ({ ffmpeg, outputWritable: isWritableDir(dir) }),
      load: () => ({ score: 0, details: { recordings: 0 } }),
      async close() {},
    };
  },
};
