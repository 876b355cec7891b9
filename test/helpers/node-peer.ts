// Moved to @strata/harness (libs/harness) so load tests and benchmarks share it.
export { NodePeer, vp8Payload, type NodePeerOptions, type ReceiveStats, type Totals } from '@strata/harness';
