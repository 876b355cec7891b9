// Moved to @strata/harness (libs/harness) so load tests and benchmarks share it.
export { REPO, spawnService, waitFor, type ServiceProcess } from '@strata/harness';
