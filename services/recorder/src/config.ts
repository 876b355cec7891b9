import { bool, int, str } from '@strata/config';

export const recorderConfig = {
  RECORDER_DIR: str({ description: 'where recordings are written (created if missing)', default: './recordings' }),
  FFMPEG_BIN: str({ description: 'ffmpeg binary used to write and check recordings', default: 'ffmpeg' }),
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
