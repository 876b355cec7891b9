import { Recording, RecordingLease, RoomPlacement, buckets } from '@strata/protocol';
import { gauge, type ServiceDefinition } from '@strata/service';
import { resolve } from 'node:path';
import { recorderConfig } from './config.js';
import { recorderLoad } from './load.js';
import { ensureWritableDir, ffmpegVersion, isWritableDir, rtpAddress } from './preflight.js';
import { RecorderPool } from './recorder-pool.js';
import { RecordingStore } from './recording-store.js';
import { NatsRoomMedia } from './room-media.js';
import { s3TargetFromConfig } from './s3-target.js';
import { trackRecorders } from './track-sinks.js';
import { UploadQueue } from './upload-queue.js';

export const recorderService: ServiceDefinition<typeof recorderConfig> = {
  kind: 'recorder',
  version: '0.1.0',
  config: recorderConfig,
  async start({ config, log, bus, region, nodeId }) {
    // First: a half-configured upload is a ConfigError (exit 78) before anything else runs.
    const s3 = s3TargetFromConfig(config);
    const dir = resolve(config.RECORDER_DIR);
    ensureWritableDir(dir);
    const ffmpeg = await ffmpegVersion(config.FFMPEG_BIN);
    const rtpHost = await rtpAddress(config.RECORDER_RTP_HOST);
    log.info({ dir, ffmpeg, rtpHost, s3Bucket: s3?.bucket }, 'ffmpeg found, recording folder writable, RTP address resolved');
    const uploads = s3 && new UploadQueue({ target: s3, concurrency: config.RECORDER_S3_CONCURRENCY, deleteLocalAfterUpload: config.RECORDER_S3_DELETE_LOCAL });

    // Wiring: recordings and their leases in KV (this pool's), room placements read from the gateways' bucket.
    const [records, leases, placements] = await Promise.all([
      bus.kv(buckets.recordings, Recording),
      bus.kv(buckets.recordingLeases, RecordingLease),
      bus.kv(buckets.rooms, RoomPlacement),
    ]);
    const pool = new RecorderPool({
      region,
      recorderId: nodeId,
      dir,
      rtpHost,
      leaseMs: config.RECORDER_LEASE,
      rosterPollMs: config.RECORDER_ROSTER_POLL,
      emptyRoomMs: config.RECORDER_EMPTY_ROOM_TIMEOUT,
      maxTracks: config.RECORDER_MAX_TRACKS,
      bus,
      store: new RecordingStore(records, leases, region),
      media: new NatsRoomMedia(bus, placements, region, config.RECORDER_MEDIA_TIMEOUT),
      sinks: trackRecorders(rtpHost),
      ...(uploads
        ? {
            upload: (localPath: string, key: string) =>
              void uploads.enqueue(localPath, key).catch((err: unknown) => log.error({ err, localPath }, 'could not queue a file for upload')),
          }
        : {}),
      log,
    });
    pool.start();
    if (uploads) {
      uploads.on('uploaded', (u) => {
        log.info({ key: u.key, bucket: u.bucket, size: u.size }, 'file uploaded');
        void pool.markUploaded(u.localPath, u.key, Date.parse(u.at)).catch((err: unknown) => log.warn({ err, key: u.key }, 'upload not written to the record'));
      });
      uploads.on('failed', (f) => log.warn({ key: f.key, retryable: f.retryable, retryInMs: f.retryInMs, err: f.error }, `upload failed: ${f.error.message}`));
      // Files a previous run (or a crashed recorder on this disk) queued and did not get confirmed.
      const pending = await uploads.resume(dir);
      if (pending) log.info({ pending }, 'uploads resumed');
    }

    return {
      health: () => ({ ffmpeg, outputWritable: isWritableDir(dir), ...(uploads ? { uploadsQueued: uploads.stats().queued } : {}) }),
      load: (sample) => recorderLoad({ recordings: pool.recordings, tracks: pool.tracks }, config.RECORDER_MAX_TRACKS, sample),
      metrics: () => [
        gauge('strata_recorder_recordings', 'recordings this recorder holds now', pool.recordings),
        gauge('strata_recorder_tracks', 'tracks this recorder writes now', pool.tracks),
      ],
      async close() {
        // SIGTERM: files finalized, recordings released for another recorder, then what is queued uploaded (bounded).
        await pool.close();
        if (uploads) {
          const drained = await uploads.drain(10_000);
          if (!drained) log.warn(uploads.stats(), 'uploads left for the next start (their markers stay)');
          await uploads.close();
        }
        s3?.close();
      },
    };
  },
};
