import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recorderLoad } from '../src/load.js';

describe('recorder load score', () => {
  it('is the fuller of its tracks against RECORDER_MAX_TRACKS and its event loop', () => {
    assert.equal(recorderLoad({ recordings: 2, tracks: 250 }, 500, { eventLoop: 0.1 }).score, 0.5);
    assert.equal(recorderLoad({ recordings: 1, tracks: 10 }, 500, { eventLoop: 0.6 }).score, 0.6);
    assert.equal(recorderLoad({ recordings: 9, tracks: 700 }, 500, { eventLoop: 0.2 }).score, 1, 'past the limit is full');
    assert.deepEqual(recorderLoad({ recordings: 2, tracks: 4 }, 500, { eventLoop: 0.25 }).details, {
      recordings: 2,
      tracks: 4,
      maxTracks: 500,
      eventLoop: 0.25,
    });
  });

  it('counts only the event loop without a track limit', () => {
    assert.equal(recorderLoad({ recordings: 50, tracks: 5000 }, 0, { eventLoop: 0.3 }).score, 0.3);
  });
});
