import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ConfigError, loadConfig } from '@strata/config';
import { freePort, startS3rver, waitFor, type RunningS3rver } from '@strata/harness';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { recorderConfig } from '../src/config.js';
import { S3Target, S3UploadError, s3TargetFromConfig, type S3TargetOptions } from '../src/s3-target.js';
import { MARKER_SUFFIX, UploadQueue, type UploadFailure, type UploadedFile, type UploadQueueOptions } from '../src/upload-queue.js';

let work: string;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'strata-rec-s3-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

function targetFor(s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string }, extra: Partial<S3TargetOptions> = {}): S3Target {
  const t = new S3Target({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: s3.bucket,
    prefix: 'rec',
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    baseDelayMs: 20,
    maxDelayMs: 100,
    requestTimeoutMs: 5000,
    ...extra,
  });
  cleanups.push(() => t.close());
  return t;
}

function queueFor(target: S3Target, extra: Partial<UploadQueueOptions> = {}): UploadQueue {
  const q = new UploadQueue({ target, retryDelayMs: 100, maxRetryDelayMs: 400, ...extra });
  cleanups.push(() => q.close());
  return q;
}

async function s3rver(opts: Parameters<typeof startS3rver>[0] = {}): Promise<RunningS3rver> {
  const s = await startS3rver(opts);
  cleanups.push(() => s.close());
  return s;
}

async function getObject(s3: RunningS3rver, key: string, bucket = s3.bucket): Promise<Buffer> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.ok(res.Body, `no body for ${key}`);
    return Buffer.from(await res.Body.transformToByteArray());
  } finally {
    client.destroy();
  }
}

/** A recording folder with files of the given sizes: `<work>/<id>/<name>`. */
async function recording(id: string, files: Record<string, number>, root = work): Promise<Map<string, { path: string; bytes: Buffer }>> {
  const dir = join(root, id);
  await mkdir(dir, { recursive: true });
  const out = new Map<string, { path: string; bytes: Buffer }>();
  for (const [name, size] of Object.entries(files)) {
    const bytes = randomBytes(size);
    const path = join(dir, name);
    await writeFile(path, bytes);
    out.set(name, { path, bytes });
  }
  return out;
}

function collect(q: UploadQueue): { uploaded: UploadedFile[]; failed: UploadFailure[] } {
  const seen = { uploaded: [] as UploadedFile[], failed: [] as UploadFailure[] };
  q.on('uploaded', (u) => seen.uploaded.push(u));
  q.on('failed', (f) => seen.failed.push(f));
  return seen;
}

describe('S3 upload of recording files', () => {
  it('uploads files, one of several MB, and the bucket returns the same bytes', async () => {
    const s3 = await s3rver();
    const files = await recording('r1', { 'audio-0001.webm': 70_000, 'video-0001.webm': 6 * 1024 * 1024 + 13, 'manifest.json': 300 });
    const q = queueFor(targetFor(s3), { concurrency: 2 });
    const seen = collect(q);
    for (const [name, f] of files) await q.enqueue(f.path, `r1/${name}`);
    assert.ok(await q.drain(20_000), 'drain timed out');
    assert.equal(seen.uploaded.length, 3);
    for (const [name, f] of files) {
      assert.deepEqual(await getObject(s3, `rec/r1/${name}`), f.bytes, name);
      assert.ok(existsSync(f.path), 'local file kept without deleteLocalAfterUpload');
      assert.ok(!existsSync(f.path + MARKER_SUFFIX), 'marker removed after upload');
      const u = seen.uploaded.find((x) => x.localPath === f.path);
      assert.ok(u);
      assert.equal(u.key, `rec/r1/${name}`);
      assert.equal(u.size, f.bytes.length);
      assert.match(u.etag, /^[0-9a-f]{32}$/);
      assert.ok(!Number.isNaN(Date.parse(u.at)));
    }
    const stats = q.stats();
    assert.deepEqual(stats, { queued: 0, uploading: 0, uploaded: 3, failedAttempts: 0, bytesUploaded: 70_000 + 6 * 1024 * 1024 + 13 + 300 });
  });

  it('retries while the server is down, keeps the local file until the upload is confirmed, deletes it after when asked', async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const files = await recording('r2', { 'video-0001.webm': 2 * 1024 * 1024 });
    const f = files.get('video-0001.webm');
    assert.ok(f);
    const target = targetFor({ endpoint, bucket: 'strata-test', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, { attempts: 2 });
    const q = queueFor(target, { deleteLocalAfterUpload: true });
    const seen = collect(q);
    await q.enqueue(f.path, 'r2/video-0001.webm');
    await waitFor('two failed tries', () => (seen.failed.length >= 2 ? true : undefined), 10_000, 20);
    assert.ok(
      seen.failed.every((x) => x.retryable && x.error instanceof S3UploadError && /network error/.test(x.error.message)),
      seen.failed[0]?.error.message,
    );
    assert.ok(existsSync(f.path), 'local file deleted before any upload');
    assert.ok(existsSync(f.path + MARKER_SUFFIX), 'marker missing while the upload is pending');
    assert.equal(q.stats().uploaded, 0);

    const s3 = await s3rver({ port });
    await waitFor('the upload', () => (seen.uploaded.length === 1 ? true : undefined), 10_000, 20);
    assert.deepEqual(await getObject(s3, 'rec/r2/video-0001.webm'), f.bytes);
    assert.ok(!existsSync(f.path), 'local file kept despite deleteLocalAfterUpload');
    assert.ok(!existsSync(f.path + MARKER_SUFFIX));
    assert.equal(seen.uploaded[0]?.deletedLocal, true);
    assert.ok(q.stats().failedAttempts >= 2);
  });

  it('a new queue on the same folder resumes the uploads a previous one left pending', async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const creds = { endpoint, bucket: 'strata-test', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    // A recordings folder of its own, so markers another test left cannot count here.
    const root = join(work, 'resume-root');
    const files = await recording('r3', { 'audio-0001.webm': 40_000, 'audio-0002.webm': 50_000 }, root);
    // The "crashed" recorder: markers written, server unreachable, then gone without drain.
    const first = queueFor(targetFor(creds, { attempts: 1 }), { retryDelayMs: 60_000 });
    for (const [name, f] of files) await first.enqueue(f.path, `r3/${name}`);
    await waitFor('both tries failed', () => (first.stats().failedAttempts >= 2 ? true : undefined), 10_000, 20);
    await first.close();
    for (const f of files.values()) assert.ok(existsSync(f.path + MARKER_SUFFIX), 'marker missing after the crash');

    const s3 = await s3rver({ port });
    const second = queueFor(targetFor(creds));
    const seen = collect(second);
    assert.equal(await second.resume(root), 2);
    assert.ok(await second.drain(10_000), 'resumed uploads did not finish');
    assert.equal(seen.uploaded.length, 2);
    for (const [name, f] of files) {
      assert.deepEqual(await getObject(s3, `rec/r3/${name}`), f.bytes);
      assert.ok(!existsSync(f.path + MARKER_SUFFIX));
      assert.ok(existsSync(f.path));
    }
    assert.equal(await queueFor(targetFor(creds)).resume(root), 0, 'markers left after the resumed uploads');
  });

  it('a wrong bucket is a clear error, retried only after the long permanent-error delay', async () => {
    const s3 = await s3rver();
    const files = await recording('r4', { 'video-0001.webm': 10_000 });
    const f = files.get('video-0001.webm');
    assert.ok(f);
    const q = queueFor(targetFor({ ...s3, bucket: 'no-such-bucket' }), { permanentErrorDelayMs: 60_000 });
    const seen = collect(q);
    await q.enqueue(f.path, 'r4/video-0001.webm');
    await waitFor('the failure', () => seen.failed[0], 5000, 20);
    const requestsAfterFailure = s3.requests();
    await new Promise((r) => setTimeout(r, 1000));
    const failure = seen.failed[0];
    assert.ok(failure);
    assert.equal(failure.retryable, false);
    assert.equal(failure.retryInMs, 60_000);
    assert.match(failure.error.message, /NoSuchBucket \(HTTP 404\)/);
    assert.match(failure.error.message, /s3:\/\/no-such-bucket\/rec\/r4\/video-0001\.webm/);
    assert.match(failure.error.message, /RECORDER_S3_BUCKET/);
    assert.equal(seen.failed.length, 1, 'retried in a loop');
    assert.equal(s3.requests(), requestsAfterFailure, 'requests after the permanent failure');
    assert.ok(requestsAfterFailure <= 1, `${requestsAfterFailure} requests for one permanent failure`);
    assert.deepEqual(q.stats(), { queued: 1, uploading: 0, uploaded: 0, failedAttempts: 1, bytesUploaded: 0 });
    assert.ok(existsSync(f.path) && existsSync(f.path + MARKER_SUFFIX), 'file or marker gone after a failed upload');
  });

  it('drain() waits for the uploads under way, and gives up at its timeout', async () => {
    const s3 = await s3rver();
    const files = await recording('r5', { 'video-0001.webm': 8 * 1024 * 1024 });
    const f = files.get('video-0001.webm');
    assert.ok(f);
    const q = queueFor(targetFor(s3));
    await q.enqueue(f.path, 'r5/video-0001.webm');
    await waitFor('the upload to start', () => (q.stats().uploading === 1 ? true : undefined), 5000, 5);
    assert.equal(await q.drain(20_000), true);
    assert.deepEqual(q.stats(), { queued: 0, uploading: 0, uploaded: 1, failedAttempts: 0, bytesUploaded: 8 * 1024 * 1024 });
    assert.deepEqual(await getObject(s3, 'rec/r5/video-0001.webm'), f.bytes);

    // Nothing listens on this port: drain must return false at its timeout, not hang or lie.
    const down = queueFor(targetFor({ ...s3, endpoint: `http://127.0.0.1:${await freePort()}` }));
    const g = (await recording('r6', { 'a.webm': 100 })).get('a.webm');
    assert.ok(g);
    await down.enqueue(g.path, 'r6/a.webm');
    const t0 = Date.now();
    assert.equal(await down.drain(400), false);
    assert.ok(Date.now() - t0 < 2000, `drain(400) took ${Date.now() - t0} ms`);
    assert.ok(existsSync(g.path + MARKER_SUFFIX));
  });
});

describe('S3Target confirmation', () => {
  /** A bucket that accepts every PUT but reports, on HEAD, what `head` says: a server that lost or mangled bytes. */
  async function lyingBucket(head: (size: number) => { length: number; etag: string }): Promise<{ endpoint: string; puts: () => number }> {
    let puts = 0;
    let size = 0;
    const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'PUT') {
        puts++;
        size = Number(req.headers['content-length']);
        req.resume();
        req.on('end', () => res.writeHead(200, { ETag: '"0123456789abcdef0123456789abcdef"' }).end());
        return;
      }
      const h = head(size);
      res.writeHead(200, { 'Content-Length': String(h.length), ETag: `"${h.etag}"` }).end();
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
    srv.on('connection', (sock) => cleanups.push(() => void sock.destroy()));
    const addr = srv.address();
    assert.ok(addr && typeof addr === 'object');
    return { endpoint: `http://127.0.0.1:${addr.port}`, puts: () => puts };
  }

  it('a HeadObject size or ETag that differs from the local file fails the upload and is retried', async () => {
    const f = (await recording('r7', { 'a.webm': 5000 })).get('a.webm');
    assert.ok(f);
    const creds = { bucket: 'b', accessKeyId: 'k', secretAccessKey: 's' };
    const short = await lyingBucket((size) => ({ length: size - 1, etag: '' }));
    await assert.rejects(targetFor({ ...creds, endpoint: short.endpoint }, { attempts: 3 }).upload(f.path, 'r7/a.webm'), (err: unknown) => {
      assert.ok(err instanceof S3UploadError);
      assert.equal(err.code, 'SizeMismatch');
      assert.equal(err.retryable, true);
      assert.match(err.message, /holds 4999 bytes, the local file 5000/);
      return true;
    });
    assert.equal(short.puts(), 3, 'PUTs for three attempts');
    const wrongMd5 = await lyingBucket((size) => ({ length: size, etag: 'ffffffffffffffffffffffffffffffff' }));
    await assert.rejects(targetFor({ ...creds, endpoint: wrongMd5.endpoint }, { attempts: 1 }).upload(f.path, 'r7/a.webm'), /ETag f{32} is not the local MD5/);
  });
});

describe('S3 configuration', () => {
  const base = { RECORDER_DIR: '/tmp/x' };
  const problems = (env: Record<string, string>): string[] => {
    try {
      s3TargetFromConfig(loadConfig(recorderConfig, { ...base, ...env }));
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return [...err.problems];
    }
  };

  it('no endpoint: no upload, defaults as documented', () => {
    const c = loadConfig(recorderConfig, base);
    assert.equal(s3TargetFromConfig(c), undefined);
    assert.equal(c.RECORDER_S3_REGION, 'us-east-1');
    assert.equal(c.RECORDER_S3_FORCE_PATH_STYLE, true);
    assert.equal(c.RECORDER_S3_DELETE_LOCAL, false);
    assert.equal(c.RECORDER_S3_CONCURRENCY, 2);
    assert.equal(c.RECORDER_S3_PREFIX, '');
  });

  it('refuses a bucket without an endpoint, and an endpoint without bucket or keys', () => {
    const p1 = problems({ RECORDER_S3_BUCKET: 'b' });
    assert.equal(p1.length, 1);
    assert.match(p1[0] ?? '', /^RECORDER_S3_BUCKET: set, but RECORDER_S3_ENDPOINT is empty/);
    assert.deepEqual(
      problems({ RECORDER_S3_ENDPOINT: 'http://127.0.0.1:9000' }).map((p) => p.split(':')[0]),
      ['RECORDER_S3_BUCKET', 'RECORDER_S3_ACCESS_KEY_ID', 'RECORDER_S3_SECRET_ACCESS_KEY'],
    );
    assert.deepEqual(
      problems({ RECORDER_S3_ENDPOINT: 'http://127.0.0.1:9000', RECORDER_S3_BUCKET: 'b' }).map((p) => p.split(':')[0]),
      ['RECORDER_S3_ACCESS_KEY_ID', 'RECORDER_S3_SECRET_ACCESS_KEY'],
    );
    assert.match(
      problems({ RECORDER_S3_ENDPOINT: 'minio:9000', RECORDER_S3_BUCKET: 'b', RECORDER_S3_ACCESS_KEY_ID: 'k', RECORDER_S3_SECRET_ACCESS_KEY: 's' })[0] ?? '',
      /is not a URL|http or https/,
    );
  });

  it('a complete configuration gives a target with the prefix applied', () => {
    const t = s3TargetFromConfig(
      loadConfig(recorderConfig, {
        ...base,
        RECORDER_S3_ENDPOINT: 'http://127.0.0.1:9000',
        RECORDER_S3_BUCKET: 'b',
        RECORDER_S3_PREFIX: 'recordings',
        RECORDER_S3_ACCESS_KEY_ID: 'k',
        RECORDER_S3_SECRET_ACCESS_KEY: 's',
      }),
    );
    assert.ok(t instanceof S3Target);
    assert.equal(t.fullKey('r1/a.webm'), 'recordings/r1/a.webm');
    t.close();
  });
});
