/** uclient's output as the e2e test and the TURN benchmark read it: lines as turnutils_uclient 4.6.1 prints them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUclientProgress, parseUclientTotals } from '../src/coturn-clients.js';

const OUTPUT = `0: : Total connect time is 3
7: : start_mclient: msz=50, tot_send_msgs=23193, tot_recv_msgs=23150, tot_send_bytes ~ 27831600, tot_recv_bytes ~ 27780000
17: : start_mclient: tot_send_msgs=100000, tot_recv_msgs=99998
17: : start_mclient: tot_send_bytes ~ 120000000, tot_recv_bytes ~ 119997600
17: : Total transmit time is 17
17: : Total lost packets 2 (0.002000%), total send dropped 0 (0.000000%)
`;

describe('turnutils_uclient output', () => {
  it('reads the once-a-second progress lines, and nothing else as progress', () => {
    assert.deepEqual(parseUclientProgress(OUTPUT.split('\n')[1] ?? ''), { second: 7, sent: 23193, received: 23150 });
    assert.equal(parseUclientProgress('17: : start_mclient: tot_send_msgs=100000, tot_recv_msgs=99998'), undefined);
    assert.equal(parseUclientProgress('0: : Total connect time is 3'), undefined);
  });

  it('reads the closing totals, and none from a run that stopped early', () => {
    assert.deepEqual(parseUclientTotals(OUTPUT), { sent: 100000, received: 99998, lost: 2 });
    assert.equal(parseUclientTotals('0: : channel bind: error 400 (Bad Request)\n'), undefined);
  });
});
