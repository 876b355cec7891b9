// Moved to @strata/harness (libs/harness) so load tests and benchmarks share it.
export { memoryLogger } from '@strata/harness';
