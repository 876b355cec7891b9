export { ManagedProcess, ProcessStartError, describeExit, type ExitStatus, type ProcessOptions, type StartOptions } from './managed-process.js';
export { httpOk, portOpen, type ReadyCheck, type Readiness } from './readiness.js';
export { freePort } from './free-port.js';
