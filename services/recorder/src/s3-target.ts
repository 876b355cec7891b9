import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ConfigError, type ConfigOf } from '@strata/config';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { recorderConfig } from './config.js';

export interface S3TargetOptions {
  endpoint: string;
  region: string;
  bucket: string;
  /** Put before every key; a missing trailing slash is added, so `recordings` and `recordings/` are the same. */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** Requests per upload() call for errors worth retrying (network, 5xx, throttling); the queue retries later beyond that. */
  attempts?: number;
  /** First backoff between attempts; doubles each time, full jitter, capped by maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A request (connect, or no bytes moving) taking longer than this counts as a network error. */
  requestTimeoutMs?: number;
}

/** What the bucket confirmed for one file: the manifest records it. */
export interface UploadResult {
  bucket: string;
  /** The full key, prefix included. */
  key: string;
  etag: string;
  size: number;
  /** Hex MD5 of the local file, which the ETag of a single PutObject equals on S3 and most compatible servers. */
  md5: string;
}

/** What UploadQueue needs from a target; tests wrap or replace it. */
export interface Uploader {
  upload(localPath: string, key: string, signal?: AbortSignal): Promise<UploadResult>;
}

/**
 * A failed upload. `retryable` separates what may heal by itself (the network, a 5xx, throttling,
 * a size or checksum that did not match) from what will fail the same way until an operator
 * acts (a wrong bucket, wrong keys, a denied policy): the queue retries the latter only rarely.
 */
export class S3UploadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** S3 error code (NoSuchBucket, AccessDenied, …), or the Node one (ECONNREFUSED) for network errors. */
    readonly code: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'S3UploadError';
  }
}

/** Error codes S3 answers when it wants the client to slow down or try again, whatever the status. */
const RETRYABLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
]);

/** What an operator should look at for the permanent errors seen in practice. */
const HINTS: Record<string, string> = {
  NoSuchBucket: 'check RECORDER_S3_BUCKET (the bucket must exist) and RECORDER_S3_ENDPOINT',
  AccessDenied: 'check the bucket policy for RECORDER_S3_ACCESS_KEY_ID (it needs s3:PutObject and s3:GetObject)',
  InvalidAccessKeyId: 'check RECORDER_S3_ACCESS_KEY_ID',
  SignatureDoesNotMatch: 'check RECORDER_S3_SECRET_ACCESS_KEY and RECORDER_S3_REGION',
  AuthorizationHeaderMalformed: 'check RECORDER_S3_REGION',
  PermanentRedirect: 'the bucket is in another region or needs another endpoint: check RECORDER_S3_REGION and RECORDER_S3_ENDPOINT',
};

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The error the SDK threw, or a Node network error under it, as an S3UploadError that says what to do. */
function classify(err: unknown, what: string): S3UploadError {
  if (err instanceof S3UploadError) return err;
  const e: SdkErrorShape = typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const nodeCode = typeof e.code === 'string' ? e.code : undefined;
  const text = typeof e.message === 'string' ? e.message : String(err);
  if (status === undefined) {
    // No HTTP answer at all: refused, reset, DNS, timeout. The server may come back.
    return new S3UploadError(`${what}: network error ${nodeCode ?? name}: ${text}`, true, nodeCode ?? name, undefined, { cause: err });
  }
  const retryable = status >= 500 || status === 429 || status === 408 || RETRYABLE_CODES.has(name);
  const hint = HINTS[name];
  return new S3UploadError(`${what}: ${name} (HTTP ${status}): ${text}${hint ? ` — ${hint}` : ''}`, retryable, name, status, { cause: err });
}

const QUIET = { debug() {}, info() {}, warn() {}, error() {} };

function md5OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('md5');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * One S3-compatible bucket that finished recording files are copied to. Each upload is a single
 * streaming PutObject: recording segments are megabytes to a few hundred, far below the 5 GB a
 * PutObject takes, so multipart (@aws-sdk/lib-storage) would add parts to track and abort without
 * a benefit; a file that must be re-sent is simply sent again from the start.
 */
export class S3Target implements Uploader {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(opts: S3TargetOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix === '' || opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 8000;
    const timeout = opts.requestTimeoutMs ?? 30_000;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      // The SDK's own retries cannot replay a file stream it has already read from: this class
      // retries, opening the file again for every attempt.
      maxAttempts: 1,
      // Since 3.729 the SDK adds CRC32 trailers (aws-chunked bodies) by default, which many
      // S3-compatible servers reject; the integrity check here is Content-MD5 plus the ETag.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: Math.min(timeout, 10_000), requestTimeout: timeout },
      // Without a logger the SDK writes a bare "non-retryable streaming request" line to the console
      // for every failed PutObject; the failure reaches the caller as an S3UploadError that says more.
      logger: QUIET,
    });
  }

  /** The key in the bucket for a key relative to the prefix. */
  fullKey(key: string): string {
    return this.prefix + key.replace(/^\/+/, '');
  }

  /**
   * Copies the local file to `prefix + key` and confirms it: a HeadObject must report the local
   * size, and the ETag (when it is a plain MD5, as for any single PutObject without SSE-KMS) the
   * local MD5. Retries network errors, 5xx and throttling up to `attempts` times with backoff;
   * throws an S3UploadError at once for the others.
   */
  async upload(localPath: string, key: string, signal?: AbortSignal): Promise<UploadResult> {
    const fullKey = this.fullKey(key);
    const what = `upload of ${localPath} to s3://${this.bucket}/${fullKey}`;
    let size: number;
    let md5: string;
    try {
      size = (await stat(localPath)).size;
      md5 = await md5OfFile(localPath);
    } catch (err) {
      throw new S3UploadError(`${what}: cannot read the local file: ${err instanceof Error ? err.message : String(err)}`, false, 'LocalFile', undefined, {
        cause: err,
      });
    }
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      try {
        return await this.putAndConfirm(localPath, fullKey, size, md5, what, signal);
      } catch (err) {
        if (signal?.aborted) throw err;
        const failure = classify(err, what);
        if (!failure.retryable || attempt >= this.attempts) throw failure;
        // Full jitter: uploaders that failed together (an endpoint restart) do not retry together.
        const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        await sleep(Math.random() * cap, undefined, signal ? { signal } : undefined);
      }
    }
  }

  private async putAndConfirm(localPath: string, key: string, size: number, md5: string, what: string, signal?: AbortSignal): Promise<UploadResult> {
    const opts = signal ? { abortSignal: signal } : {};
    const body = createReadStream(localPath);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: size, ContentMD5: Buffer.from(md5, 'hex').toString('base64') }),
        opts,
      );
    } finally {
      body.destroy();
    }
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), opts);
    const etag = (head.ETag ?? '').replace(/"/g, '');
    if (head.ContentLength !== size) {
      throw new S3UploadError(`${what}: the bucket holds ${String(head.ContentLength)} bytes, the local file ${size}`, true, 'SizeMismatch');
    }
    if (/^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== md5) {
      throw new S3UploadError(`${what}: ETag ${etag} is not the local MD5 ${md5}`, true, 'ChecksumMismatch');
    }
    return { bucket: this.bucket, key, etag, size, md5 };
  }

  close(): void {
    this.client.destroy();
  }
}

type S3Config = Pick<
  ConfigOf<typeof recorderConfig>,
  | 'RECORDER_S3_ENDPOINT'
  | 'RECORDER_S3_REGION'
  | 'RECORDER_S3_BUCKET'
  | 'RECORDER_S3_PREFIX'
  | 'RECORDER_S3_ACCESS_KEY_ID'
  | 'RECORDER_S3_SECRET_ACCESS_KEY'
  | 'RECORDER_S3_FORCE_PATH_STYLE'
>;

/**
 * The upload target the configuration asks for, or undefined when RECORDER_S3_ENDPOINT is empty.
 * A half-configured upload throws a ConfigError (exit 78 at start) rather than recording for
 * hours into files that will never leave the machine.
 */
export function s3TargetFromConfig(config: S3Config): S3Target | undefined {
  const problems: string[] = [];
  const endpoint = config.RECORDER_S3_ENDPOINT;
  if (!endpoint) {
    for (const name of ['RECORDER_S3_BUCKET', 'RECORDER_S3_ACCESS_KEY_ID', 'RECORDER_S3_SECRET_ACCESS_KEY'] as const) {
      if (config[name]) problems.push(`${name}: set, but RECORDER_S3_ENDPOINT is empty, so nothing would be uploaded (set the endpoint, or unset ${name})`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return undefined;
  }
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`RECORDER_S3_ENDPOINT: "${endpoint}" must use http or https`);
  } catch {
    problems.push(`RECORDER_S3_ENDPOINT: "${endpoint}" is not a URL`);
  }
  if (!config.RECORDER_S3_BUCKET) problems.push('RECORDER_S3_BUCKET: required when RECORDER_S3_ENDPOINT is set');
  if (!config.RECORDER_S3_ACCESS_KEY_ID) problems.push('RECORDER_S3_ACCESS_KEY_ID: required when RECORDER_S3_ENDPOINT is set');
  if (!config.RECORDER_S3_SECRET_ACCESS_KEY) problems.push('RECORDER_S3_SECRET_ACCESS_KEY: required when RECORDER_S3_ENDPOINT is set');
  if (problems.length > 0) throw new ConfigError(problems);
  return new S3Target({
    endpoint,
    region: config.RECORDER_S3_REGION,
    bucket: config.RECORDER_S3_BUCKET,
    prefix: config.RECORDER_S3_PREFIX,
    accessKeyId: config.RECORDER_S3_ACCESS_KEY_ID,
    secretAccessKey: config.RECORDER_S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.RECORDER_S3_FORCE_PATH_STYLE,
  });
}
