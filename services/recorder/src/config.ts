import { bool, duration, int, str } from '@strata/config';

export const recorderConfig = {
  RECORDER_DIR: str({ description: 'where recordings are written, one folder per recording (created if missing)', default: './recordings' }),
  FFMPEG_BIN: str({ description: 'ffmpeg binary, checked at start and used by the mix post-step', default: 'ffmpeg' }),
  RECORDER_RTP_HOST: str({
    description:
      'IPv4 address (or a name resolved once at start) the recorder receives RTP on, one UDP port per track; media nodes send to it, so it must be reachable from them',
    default: '127.0.0.1',
  }),
  RECORDER_LEASE: duration({
    description: 'how long a recording stays held by a recorder that stopped renewing it; past it another recorder of the pool takes it over',
    default: 3000,
    min: 300,
  }),
  RECORDER_ROSTER_POLL: duration({
    description: "how often a recording reads the room's roster again (producers it missed an event of)",
    default: 2000,
    min: 100,
  }),
  RECORDER_EMPTY_ROOM_TIMEOUT: duration({ description: 'a recording of a room with no member for this long stops ("room empty")', default: 10_000 }),
  RECORDER_MAX_TRACKS: int({
    description:
      'tracks this recorder writes at most: at it, it leaves the start queue (new recordings go to recorders with room; none with room: UNAVAILABLE) and takes over an expired recording only if no other did within a lease; 0: no limit. One recorder wrote 640 tracks in 0.6 of a core (docs/benchmarks.md, Recorder)',
    default: 500,
    min: 0,
    max: 100_000,
  }),
  RECORDER_MEDIA_TIMEOUT: duration({ description: 'how long a request to a media node may take', default: 5000 }),
  RECORDER_S3_ENDPOINT: str({
    description: 'S3-compatible endpoint URL finished files are uploaded to (https://s3.eu-west-1.amazonaws.com, http://minio:9000); empty: no upload',
    default: '',
  }),
  RECORDER_S3_REGION: str({ description: 'region the S3 requests are signed for', default: 'us-east-1' }),
  RECORDER_S3_BUCKET: str({ description: 'bucket the files are uploaded to (required with RECORDER_S3_ENDPOINT)', default: '' }),
  RECORDER_S3_PREFIX: str({ description: 'key prefix before `<recordingId>/<file>` in the bucket, e.g. `recordings/`', default: '' }),
  RECORDER_S3_ACCESS_KEY_ID: str({ description: 'access key id for the bucket (required with RECORDER_S3_ENDPOINT)', default: '' }),
  RECORDER_S3_SECRET_ACCESS_KEY: str({ description: 'secret access key for the bucket (required with RECORDER_S3_ENDPOINT)', default: '' }),
  RECORDER_S3_FORCE_PATH_STYLE: bool({
    description: 'address the bucket as `<endpoint>/<bucket>/<key>` (MinIO and most S3-compatible servers) rather than `<bucket>.<endpoint>`',
    default: true,
  }),
  RECORDER_S3_DELETE_LOCAL: bool({ description: 'delete a local file once its upload is confirmed (never before)', default: false }),
  RECORDER_S3_CONCURRENCY: int({ description: 'files uploaded at the same time', default: 2, min: 1, max: 16 }),
};
