import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3rverOptions {
  /** 0 (default): any free port. A fixed one lets a test stop the server and start it again where clients expect it. */
  port?: number;
  /** Where the objects are kept; default a new temporary folder, removed by close(). */
  directory?: string;
  /** Buckets created at start; default `['strata-test']`. */
  buckets?: string[];
}

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>`: use with forcePathStyle. */
  endpoint: string;
  port: number;
  directory: string;
  /** The first bucket of `buckets`. */
  bucket: string;
  /** s3rver's fixed credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  /** HTTP requests the server received so far: a test can tell a retry loop from one request. */
  requests(): number;
  close(): Promise<void>;
}

/**
 * An S3-protocol server (s3rver, objects on the local disk) on 127.0.0.1, for tests of what
 * uploads to a bucket. Nothing leaves the machine.
 */
export async function startS3rver(opts: S3rverOptions = {}): Promise<RunningS3rver> {
  const ownDir = opts.directory === undefined;
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), 'strata-s3rver-')));
  const buckets = opts.buckets ?? ['strata-test'];
  // Loaded here, not at the top: every test and load test imports the harness, few need an S3 server.
  const { default: S3rver } = await import('s3rver');
  const server = new S3rver({ address: '127.0.0.1', port: opts.port ?? 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  let requests = 0;
  server.httpServer?.on('request', () => requests++);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    bucket: buckets[0] ?? 'strata-test',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    requests: () => requests,
    async close() {
      // Keep-alive connections from SDK clients would hold close() open.
      server.httpServer?.closeAllConnections();
      await server.close();
      if (ownDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
