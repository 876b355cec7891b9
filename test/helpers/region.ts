// Moved to @strata/harness (libs/harness) so load tests and benchmarks share it.
export { startRegion, type Region, type RegionOptions } from '@strata/harness';
