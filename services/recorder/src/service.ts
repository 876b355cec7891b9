import type { ServiceDefinition } from '@strata/service';
import { resolve } from 'node:path';
import { recorderConfig } from './config.js';
import { ensureWritableDir, ffmpegVersion, isWritableDir } from './preflight.js';
import { s3TargetFromConfig } from './s3-target.js';

export const recorderService: ServiceDefinition<typeof recorderConfig> = {
  kind: 'recorder',
  version: '0.1.0',
  config: recorderConfig,
  async start({ config, log }) {
    // First: a half-configured upload is a ConfigError (exit 78) before anything else runs.
    const s3 = s3TargetFromConfig(config);
    const dir = resolve(config.RECORDER_DIR);
    ensureWritableDir(dir);
    const ffmpeg = await ffmpegVersion(config.FFMPEG_BIN);
    log.info({ dir, ffmpeg, s3Bucket: s3?.bucket }, 'ffmpeg found and recording folder writable');
    return {
      health: () => ({ ffmpeg, outputWritable: isWritableDir(dir) }),
      load: () => ({ score: 0, details: { recordings: 0 } }),
      async close() {
        s3?.close();
      },
    };
  },
};
