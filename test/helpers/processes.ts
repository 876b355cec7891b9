// Moved to @strata/harness (libs/harness) so load tests and benchmarks share it.
export { REPO, spawnService, untilHealthy, waitFor, type ServiceProcess } from '@strata/harness';
