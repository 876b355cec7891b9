// Moved to @strata/harness (libs/harness) so benchmarks share the senders and sinks.
export {
  AUDIO_LEVEL_EXT_ID,
  VP8_PT,
  keyFrameRequests,
  rtpPacket,
  senderReport,
  startAudioSender,
  startSimulcastSender,
  startUdpSink,
  startVp8Sink,
  vp8KeyFrameWidth,
  type SyntheticLayer,
} from '@strata/harness';
