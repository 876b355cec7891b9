export { memoryLogger } from './logger.js';
export { REPO, spawnService, untilHealthy, waitFor, type ServiceProcess } from './processes.js';
export { startRegion, type Region, type RegionOptions } from './region.js';
export { NodePeer, vp8Payload, type NodePeerOptions, type ReceiveStats, type Totals } from './node-peer.js';
export { childPids, clockTicksPerSecond, cmdline, findPids, readProc, type ProcSnapshot } from './proc-stats.js';
export * from './machine.js';
export { flowingLinkStreams, legsOf, peersOf, type LinkFlows } from './cascade-probe.js';
export * from './rtp.js';
export { SrtpSession, randomSrtpParameters, rtpPayload, srtpOverhead } from './srtp.js';
export { mediaBeat } from './beats.js';
export {
  haveCommands,
  parseUclientProgress,
  parseUclientTotals,
  startTurnutilsPeer,
  startUclient,
  uclient,
  type RunningUclient,
  type UclientProgress,
  type UclientTotals,
} from './coturn-clients.js';
export { startS3rver, type RunningS3rver, type S3rverOptions } from './s3rver.js';
export { audioRms, decodeErrors, probe, startFfmpegRtp, type FfmpegRtp, type FfmpegRtpOptions, type ProbeResult, type ProbeStream } from './ffmpeg-source.js';
export { freePort } from '@strata/process';
