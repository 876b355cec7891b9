import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectLeg, type NodeLoad } from '../src/leg-selector.js';

const none = new Set<string>();
const node = (nodeId: string, score = 0, routers = 0): NodeLoad => ({ nodeId, score, routers });

/** A deterministic shuffle (the order nodes are heard in must not matter). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('selectLeg', () => {
  it('tries the legs oldest first, skipping one that refused, one on a gone node and one on a node at capacity', () => {
    const nodes = [node('a', 0.2), node('b', 1), node('c', 0.1), node('d', 0.5)];
    const legs = ['a', 'b', 'c', 'd'];
    assert.deepEqual(selectLeg({ legs, nodes, refused: none, gone: none }), { kind: 'leg', nodeId: 'a' });
    assert.deepEqual(selectLeg({ legs, nodes, refused: new Set(['a']), gone: none }), { kind: 'leg', nodeId: 'c' }, 'b is at capacity');
    assert.deepEqual(selectLeg({ legs, nodes, refused: new Set(['a']), gone: new Set(['c']) }), { kind: 'leg', nodeId: 'd' });
  });

  it('tries a leg on a node it has not heard from (a gateway that just started) unless it is known gone', () => {
    assert.deepEqual(selectLeg({ legs: ['x'], nodes: [node('a')], refused: none, gone: none }), { kind: 'leg', nodeId: 'x' });
    assert.deepEqual(selectLeg({ legs: ['x'], nodes: [node('a')], refused: none, gone: new Set(['x']) }), { kind: 'open', nodeId: 'a' });
  });

  it('opens a new leg on the least-loaded node, whatever order the nodes are listed in', () => {
    // Eight nodes, one clearly least loaded: a random pick is right one time in eight, so
    // twenty orders all answered right leave random choice a chance of 8^-20.
    const nodes = [0.7, 0.35, 0.9, 0.12, 0.5, 0.13, 0.8, 0.6].map((s, i) => node(`n${i}`, s, 8 - i));
    for (let seed = 1; seed <= 20; seed++) {
      assert.deepEqual(selectLeg({ legs: [], nodes: shuffled(nodes, seed), refused: none, gone: none }), { kind: 'open', nodeId: 'n3' });
    }
    // Without n3, the next lowest score; rooms and ids only break ties.
    assert.deepEqual(selectLeg({ legs: [], nodes, refused: new Set(['n3']), gone: none }), { kind: 'open', nodeId: 'n5' });
  });

  it('breaks ties on score by fewer rooms, then by id, so gateways with one view pick one node', () => {
    const nodes = [node('c', 0.1, 4), node('b', 0.1, 2), node('a', 0.1, 2), node('d', 0.3, 0)];
    for (let seed = 1; seed <= 10; seed++) {
      assert.deepEqual(selectLeg({ legs: [], nodes: shuffled(nodes, seed), refused: none, gone: none }), { kind: 'open', nodeId: 'a' });
    }
  });

  it('opens a new leg only on a node that is no leg of the room, has not refused, is not gone and is below capacity', () => {
    const nodes = [node('a', 0), node('b', 0.05), node('c', 0.1), node('d', 1), node('e', 0.4)];
    const q = { legs: ['a'], nodes, refused: new Set(['a', 'b']), gone: new Set(['c']) };
    assert.deepEqual(selectLeg(q), { kind: 'open', nodeId: 'e' });
    assert.deepEqual(selectLeg({ ...q, refused: new Set(['a', 'b', 'e']) }), { kind: 'none' }, 'd is full');
  });

  it('has nothing to offer when there is no node at all', () => {
    assert.deepEqual(selectLeg({ legs: [], nodes: [], refused: none, gone: none }), { kind: 'none' });
  });
});
