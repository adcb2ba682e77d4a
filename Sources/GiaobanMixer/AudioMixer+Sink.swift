public import GiaobanEngine

/// The router copies each participant's Opus packets straight into the meeting's mixer.
extension AudioMixer: AudioSink {}
