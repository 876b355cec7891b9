import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rtpAddress } from '../src/preflight.js';

describe('recorder start-up checks', () => {
  it('RECORDER_RTP_HOST: an IP is used as it is, a name is resolved once to IPv4, an unknown name is a clear error', async () => {
    assert.equal(await rtpAddress('10.1.2.3'), '10.1.2.3');
    assert.equal(await rtpAddress('localhost'), '127.0.0.1');
    // A name the resolver does not know (a fake one: no DNS query leaves the machine).
    const notFound = (name: string): Promise<{ address: string }> =>
      Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
    await assert.rejects(
      rtpAddress('recorder', notFound),
      /RECORDER_RTP_HOST: cannot resolve "recorder" to an IPv4 address \(getaddrinfo ENOTFOUND recorder\)/,
    );
  });
});
