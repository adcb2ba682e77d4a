/// What the relay holds back of one published stream for every subscriber: the meeting's
/// rules, kept apart from the forwarding state of `RelayStream`. Set by commands (a chair's
/// mute) and by the stream's group on the media thread (the loudest-K and last-N gates).
struct StreamPolicy: Equatable {
    /// The publisher's audio is held back (a chair's mute); sinks get none either.
    var muted = false
    /// The publisher's audio is held back because it is not among its group's loudest.
    var audioGated = false
    /// The publisher's video is held back: not among its group's last-N speakers. Subscribers
    /// resume on a keyframe when it is let through again.
    var videoGated = false

    /// True when no subscriber gets the audio.
    var holdsAudio: Bool { muted || audioGated }
}
