import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManagedProcess, ProcessStartError, httpOk, portOpen, type StartOptions } from '../src/index.js';

/** A node one-liner as a managed process. */
const node = (script: string, extra: Partial<StartOptions> = {}): StartOptions => ({
  command: process.execPath,
  args: ['-e', script],
  name: 'one-liner',
  ready: /^ready$/,
  readyTimeoutMs: 10_000,
  ...extra,
});
const KEEP_ALIVE = 'setInterval(() => {}, 1000);';
const IGNORE_TERM = "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const started: ManagedProcess[] = [];
async function start(opts: StartOptions): Promise<ManagedProcess> {
  const p = await ManagedProcess.start(opts);
  started.push(p);
  return p;
}
after(async () => {
  await Promise.all(started.map((p) => p.kill9()));
});

describe('ManagedProcess', () => {
  it('starts once a line matches, hands back the match, and logs stdout and stderr to its file', async () => {
    const p = await start(node(`console.error('warming up'); console.log('PORT 4567'); console.log('ready'); ${KEEP_ALIVE}`, { ready: /^PORT (\d+)$/ }));
    assert.equal(p.running(), true);
    assert.equal(p.readyMatch?.[1], '4567');
    const again = await p.waitReady(/^ready$/);
    assert.equal(again?.[0], 'ready', 'a line written before waitReady() counts');
    const log = readFileSync(p.logFile, 'utf8');
    assert.match(log, /warming up/);
    assert.match(log, /PORT 4567/);
    assert.equal(p.output(), log);
    assert.deepEqual(await p.stop(5000), { code: null, signal: 'SIGTERM' });
  });

  it('resolves the match of the ready line', async () => {
    const p = new ManagedProcess({
      command: process.execPath,
      args: ['-e', `setTimeout(() => console.log('listening on 127.0.0.1:9999'), 50); ${KEEP_ALIVE}`],
    });
    started.push(p);
    const m = await p.waitReady(/listening on ([\d.]+):(\d+)/, 10_000);
    assert.deepEqual([m?.[1], m?.[2]], ['127.0.0.1', '9999']);
    await p.stop();
  });

  it('gives up on one that never gets ready, with the tail of its log in the error, and kills it', async () => {
    const opts = node(`let i = 0; setInterval(() => console.log('still starting ' + ++i), 20);`, { readyTimeoutMs: 300 });
    const err = await ManagedProcess.start(opts).then(
      () => assert.fail('started'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProcessStartError, String(err));
    assert.match(err.message, /one-liner \(pid \d+\) was not ready within 300 ms \(waiting for a log line matching \/\^ready\$\/\)/);
    assert.match(err.message, /--- last output \(.*one-liner-\d+\.log\) ---\nstill starting 1\n/);
    assert.match(err.logTail, /still starting \d+/);
    const pid = Number(/pid (\d+)/.exec(err.message)?.[1]);
    assert.equal(alive(pid), false, 'the process that never got ready is gone');
  });

  it('says when one exits before it is ready, with its output', async () => {
    await assert.rejects(ManagedProcess.start(node(`console.error('bad config: FOO'); process.exit(3);`)), (e: Error) => {
      assert.match(e.message, /exited \(code 3\) before it was ready/);
      assert.match(e.message, /bad config: FOO/);
      return true;
    });
  });

  it('kills one that ignores SIGTERM once the stop timeout has passed', async () => {
    const p = await start(node(`${IGNORE_TERM} console.log('ready'); ${KEEP_ALIVE}`));
    const t0 = Date.now();
    const status = await p.stop(400);
    assert.deepEqual(status, { code: null, signal: 'SIGKILL' });
    assert.ok(Date.now() - t0 >= 400, 'SIGKILL only after the timeout');
    assert.match(p.output(), /ignoring SIGTERM/, 'SIGTERM came first');
    assert.equal(alive(p.pid), false);
  });

  it('stops idempotently, and does not signal a process that is already gone', async () => {
    const p = await start(node(`process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); console.log('ready'); ${KEEP_ALIVE}`));
    const [a, b] = await Promise.all([p.stop(5000), p.stop(5000)]);
    assert.deepEqual(a, { code: 0, signal: null });
    assert.equal(a, b);
    assert.equal(p.output().match(/bye/g)?.length, 1, 'one SIGTERM');
    assert.equal(await p.stop(), a);
    assert.equal(await p.kill9(), a);

    const done = await start(node(`console.log('ready');`));
    assert.deepEqual(await done.exited, { code: 0, signal: null });
    assert.deepEqual(await done.stop(), { code: 0, signal: null });
  });

  it('kill9() ends it at once, whatever it handles', async () => {
    const p = await start(node(`${IGNORE_TERM} console.log('ready'); ${KEEP_ALIVE}`));
    assert.deepEqual(await p.kill9(), { code: null, signal: 'SIGKILL' });
    assert.doesNotMatch(p.output(), /ignoring SIGTERM/);
  });

  it('stops the whole process group, so a child it started goes too', async () => {
    const child = `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(`${IGNORE_TERM} ${KEEP_ALIVE}`)}], { stdio: 'ignore' })`;
    const p = await start(node(`const c = ${child}; console.log('child ' + c.pid); console.log('ready'); ${KEEP_ALIVE}`, { group: true }));
    const grandchild = Number(/child (\d+)/.exec(p.output())?.[1]);
    assert.ok(alive(grandchild));
    await p.stop(500);
    assert.equal(alive(grandchild), false, 'the grandchild that ignored SIGTERM was killed with its group');
  });

  it('waits on a check: a port that opens, an HTTP endpoint that answers', async () => {
    const server = `require('http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); });`;
    const first = await start(node(`${server} ${KEEP_ALIVE}`, { ready: /^port (\d+)$/ }));
    const port = Number(first.readyMatch?.[1]);
    await first.waitReady(portOpen(port));
    await first.waitReady(httpOk(`http://127.0.0.1:${port}/`));
    await first.stop();

    const never = new ManagedProcess({ command: process.execPath, args: ['-e', KEEP_ALIVE], name: 'no-port' });
    started.push(never);
    await assert.rejects(
      never.waitReady(portOpen(port), 300),
      /no-port \(pid \d+\) was not ready within 300 ms \(waiting for 127\.0\.0\.1:\d+ accepts connections\)/,
    );
    await assert.rejects(never.waitReady(httpOk(`http://127.0.0.1:${port}/`), 300), /last check failed: fetch failed/);
    assert.equal(never.running(), true, 'waitReady leaves it running');
    await never.stop();
  });

  it('passes env and cwd, removes a variable set to undefined, and writes where logFile says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-process-test-'));
    try {
      process.env['STRATA_PROCESS_TEST_GONE'] = 'inherited';
      const p = await start(
        node(`console.log(process.cwd(), process.env.FOO, process.env.STRATA_PROCESS_TEST_GONE ?? 'unset'); console.log('ready');`, {
          env: { FOO: 'bar', STRATA_PROCESS_TEST_GONE: undefined },
          cwd: dir,
          logFile: join(dir, 'logs', 'p.log'),
        }),
      );
      await p.exited;
      assert.equal(readFileSync(join(dir, 'logs', 'p.log'), 'utf8'), `${dir} bar unset\nready\n`);
    } finally {
      delete process.env['STRATA_PROCESS_TEST_GONE'];
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands each output line to onLine, and opens an IPC channel when asked', async () => {
    const lines: string[] = [];
    const p = new ManagedProcess({
      command: process.execPath,
      args: [
        '-e',
        `process.stdout.write('a\\nb'); setTimeout(() => process.stdout.write('c\\n'), 20); process.on('message', (m) => process.send({ echo: m }));`,
      ],
      onLine: (l) => lines.push(l),
      ipc: true,
    });
    started.push(p);
    const echo = new Promise((resolve) => p.child.once('message', resolve));
    p.child.send({ hello: 1 });
    assert.deepEqual(await echo, { echo: { hello: 1 } });
    await p.waitReady(/^bc$/);
    assert.deepEqual(lines.slice(0, 2), ['a', 'bc']);
    p.child.disconnect();
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  });

  it('refuses a command that does not exist', () => {
    assert.throws(() => new ManagedProcess({ command: 'strata-no-such-command' }), /cannot run strata-no-such-command: not found or not executable/);
  });
});
