/**
 * The release check of the images (`npm run test:images`; not in `npm test`, which has no time
 * for image builds): builds every image with `npm run images`, brings the compose stack up
 * under its own project name, ports and secrets, waits for every service's health, joins two
 * headless Chromium pages to a room through the containerised gateway and checks that each
 * plays the other's video, then tears it all down and checks that nothing is left: no container,
 * volume or network of the project, no working container of the build, no untagged image.
 *
 * STRATA_IMAGES_SKIP_BUILD=1 uses the images already built (a second run after a failure).
 */
import { freePort } from '@strata/nats-server';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { demoState, demoStats, launchChromium, pageWaiter, untilJoinedWithTwoTracks, untilRemoteVideoPlays } from '../helpers/demo-page.js';
import { REPO } from '../helpers/processes.js';

const PROJECT = `strata-images-${process.pid}`;
const COMPOSE = join(REPO, 'deploy/compose/compose.sh');
const SERVICES = ['nats', 'signaling', 'media', 'turn', 'geo-router', 'recorder'] as const;
const ROOM = 'images-check';

/** podman or buildah with the storage and runtime settings of deploy/images/engine.sh. */
function engine(tool: 'PODMAN' | 'BUILDAH', ...args: string[]): string {
  const script = `. deploy/images/engine.sh && "\${${tool}[@]}" "$@"`;
  return execFileSync('bash', ['-c', script, tool, ...args], { cwd: REPO, encoding: 'utf8' });
}
const podman = (...args: string[]): string => engine('PODMAN', ...args);
const buildah = (...args: string[]): string => engine('BUILDAH', ...args);
const lines = (s: string): string[] => s.split('\n').filter(Boolean);

function compose(envFile: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('bash', [COMPOSE, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, STRATA_COMPOSE_ENV: envFile, STRATA_COMPOSE_PROJECT: PROJECT, STRATA_HEALTH_TIMEOUT: '180' },
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe('images and the compose stack (release check)', { timeout: 90 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-images-'));
  const envFile = join(dir, '.env');
  let httpPort = 0;
  let browser: Browser | undefined;
  let up = false;
  const logs: string[] = [];

  before(async () => {
    if (process.env['STRATA_IMAGES_SKIP_BUILD'] !== '1') {
      const build = spawnSync('bash', ['deploy/images/build.sh'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      process.stdout.write(build.stdout);
      assert.equal(build.status, 0, 'npm run images failed (or an image is over its size budget)');
    }
    httpPort = await freePort();
    const secret = (): string => randomBytes(24).toString('hex');
    const [rtcPort, turnPort, turnTlsPort, natsMonitor] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const relayMin = 49160 + (process.pid % 20) * 40;
    writeFileSync(
      envFile,
      [
        'STRATA_REGION=images',
        'STRATA_PUBLIC_IP=127.0.0.1',
        'STRATA_BIND_IP=127.0.0.1',
        `SIGNALING_PORT=${httpPort}`,
        `SIGNALING_PUBLIC_URL=http://127.0.0.1:${httpPort}`,
        'SIGNALING_DEV_TOKENS=true',
        `MEDIA_RTC_PORT=${rtcPort}`,
        `TURN_PORT=${turnPort}`,
        `TURN_TLS_PORT=${turnTlsPort}`,
        `TURN_MIN_PORT=${relayMin}`,
        `TURN_MAX_PORT=${relayMin + 9}`,
        `NATS_MONITOR_PORT=${natsMonitor}`,
        ...[
          'SIGNALING_JWT_SECRET',
          'SIGNALING_ADMIN_SECRET',
          'TURN_SECRET',
          'NATS_SIGNALING_PASSWORD',
          'NATS_MEDIA_PASSWORD',
          'NATS_TURN_PASSWORD',
          'NATS_GEO_ROUTER_PASSWORD',
          'NATS_RECORDER_PASSWORD',
          'NATS_ADMIN_PASSWORD',
          'NATS_SYS_PASSWORD',
        ].map((v) => `${v}=${secret()}`),
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await browser?.close();
    if (up) {
      const down = compose(envFile, 'down', '--volumes');
      if (down.status !== 0) console.error(down.out);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('comes up with every service healthy, as a non-root user', () => {
    const r = compose(envFile, 'up');
    up = true;
    assert.equal(r.status, 0, `compose up failed:\n${r.out}`);
    assert.match(r.out, new RegExp(`open http://127\\.0\\.0\\.1:${httpPort}/`));
    for (const s of SERVICES) {
      const ctr = `${PROJECT}_${s}_1`;
      assert.equal(podman('exec', ctr, 'id', '-u').trim(), '10001', `${s} runs as uid 10001`);
      const health = JSON.parse(podman('inspect', '--format', '{{json .Config.Healthcheck}}', ctr)) as { Test?: string[] } | null;
      assert.ok(health?.Test?.length, `${s} has a HEALTHCHECK`);
    }
  });

  it('two Chromium pages join a room through the containerised gateway and each plays the other one’s video', async () => {
    browser = await launchChromium();
    const waitIn = pageWaiter(logs);
    const pages: Page[] = [];
    for (const name of ['Alice', 'Bob']) {
      const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
      const page = await context.newPage();
      page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`[${name}] pageerror: ${e.message}`));
      await page.goto(`http://127.0.0.1:${httpPort}/?room=${ROOM}&name=${name}`);
      pages.push(page);
    }
    for (const page of pages) await untilJoinedWithTwoTracks(page, waitIn, 60_000);
    const [alice, bob] = pages as [Page, Page];
    const [aliceState, bobState] = [(await demoState(alice))!, (await demoState(bob))!];
    assert.deepEqual(
      aliceState.peers.map((p) => p.name),
      ['Bob'],
    );
    for (const [page, other] of [
      [alice, bobState],
      [bob, aliceState],
    ] as const) {
      const playing = await untilRemoteVideoPlays(page, waitIn);
      assert.equal(playing.peerId, other.peerId);
      const video = (await demoStats(page)).find((s) => s.kind === 'video');
      assert.ok(video && video.framesDecoded! > 0 && video.frameWidth! > 0, `video decoded: ${JSON.stringify(video)}`);
    }
  });

  it('comes down leaving no container, volume, network or untagged image behind', () => {
    const down = compose(envFile, 'down', '--volumes');
    up = false;
    assert.equal(down.status, 0, `compose down failed:\n${down.out}`);
    const containers = lines(podman('ps', '-a', '--format', '{{.Names}}')).filter((n) => n.startsWith(PROJECT));
    assert.deepEqual(containers, [], 'containers left');
    const volumes = lines(podman('volume', 'ls', '--format', '{{.Name}}')).filter((n) => n.startsWith(PROJECT));
    assert.deepEqual(volumes, [], 'volumes left');
    const networks = lines(podman('network', 'ls', '--format', '{{.Name}}')).filter((n) => n.startsWith(PROJECT));
    assert.deepEqual(networks, [], 'networks left');
    assert.deepEqual(lines(buildah('containers', '--format', '{{.ContainerName}}')), [], 'build containers left');
    // The build's intermediate layers are its cache (podman lists them only with -a); an image a
    // rebuild untagged is not, and the build removes it.
    assert.deepEqual(lines(podman('images', '--filter', 'dangling=true', '--format', '{{.ID}} {{.Created}}')), [], 'untagged images left');
  });
});
