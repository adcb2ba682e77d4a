public import GiaobanEngine

/// The router copies each participant's Opus packets straight into the meeting's mixer.
extension AudioMixer: AudioSink {}

/// The router copies the shown sources' VP8 packets straight into the meeting's compositor.
extension VideoCompositor: VideoSink {}
