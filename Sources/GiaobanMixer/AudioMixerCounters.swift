/// What an `AudioMixer` has done since it was created, as a value snapshot refreshed at the
/// end of every tick. Totals only grow; rates are over the last second of ticks.
public struct AudioMixerCounters: Sendable, Equatable, Codable {
    /// Ticks run.
    public var ticks = 0
    /// Opus packets decoded.
    public var decodes = 0
    /// Lost frames rebuilt from the next packet's in-band FEC (RFC 6716 §2.1.7); only tried
    /// when that packet is SILK or hybrid, the modes that can carry FEC.
    public var fecRecoveries = 0
    /// Lost frames concealed by the decoder (PLC).
    public var plcFrames = 0
    /// Opus frames encoded (one per distinct mix per tick).
    public var encodes = 0
    /// Encodes in the last 50 ticks (one second at 20 ms).
    public var encodesPerSecond = 0
    /// Distinct mixes of the last tick.
    public var mixes = 0
    /// Packets that arrived after their tick had passed, or twice.
    public var late = 0
    /// Packets dropped to keep a source's buffer at the playout delay.
    public var skipped = 0
    /// Ticks on which a playing source had nothing to play.
    public var underruns = 0
    /// Packets refused by `push` because the inbox was full (the tick thread is stalled).
    public var inboxDropped = 0
    /// Packets that were not one 20 ms Opus frame, or did not parse.
    public var unsupported = 0
    /// Decoder or encoder failures (the frame was concealed or not sent).
    public var codecErrors = 0
    /// Sources known now.
    public var sources = 0
    /// Listeners registered now.
    public var listeners = 0

    /// All counts zero.
    public init() {}
}
