public import GiaobanCodecs
public import GiaobanEngine
public import GiaobanWire
public import GiaobanRTP

/// The audio mixer of one meeting, for listeners who receive one mixed stream instead of
/// one stream per speaker (communes on poor links).
///
/// - The media thread calls `push` for every Opus packet of every source: the payload is
///   copied into a queue under a lock; nothing is decoded there.
/// - A tick every 20 ms (`MixerClock`, or a test calling `tick()`) takes the queue, puts
///   each source's packets in its playout buffer (`PlayoutBuffer`, a fixed delay of
///   `playoutDelay` frames), decodes one frame per source with libopus (FEC from the next
///   packet when one is missing, else concealment), seats the `speakers` loudest sources
///   with hysteresis (`SpeakerSelection`), and mixes mono 48 kHz 16-bit with saturation.
/// - Each listener gets mix-minus: everyone seated except itself. Each *distinct* mix is
///   encoded once: one shared mix for all listeners who are not seated, one per seated
///   listener. Each mix has its own Opus encoder, reset and reused when the mix disappears.
/// - The tick returns the encoded mixes and, per listener, which one to send with what RTP
///   sequence number and timestamp (`MixedStreamRTPState`: continuous across mix changes).
///
/// `push`, `setListeners`, `removeSource` and `counters` may be called from any thread;
/// `tick` runs one tick at a time (a second caller waits).
public final class AudioMixer: Sendable {
    /// Tuning.
    public struct Settings: Sendable {
        /// The most speakers mixed at once (K).
        public var speakers = 3
        /// Frames each source is held before playout (jitter and reordering tolerance).
        public var playoutDelay = 2
        /// Ticks with nothing to play after which a source stops until its next packet.
        public var idleAfter = 5
        /// Opus bitrate of each mix, bits per second.
        public var bitrate: Int32 = 32_000
        /// Opus encoder complexity (0–10).
        public var complexity: Int32 = 5
        /// Opus application of the mix encoders.
        public var application: OpusAudioEncoder.Application = .voip
        /// In-band FEC in the mixes (the listener's decoder can recover a lost packet).
        public var fec = true
        /// Loudness smoothing and seat hysteresis (at one update per `selectionInterval`).
        public var selection = DominantSpeaker.Settings()
        /// Ticks per speaker-selection update (5 = 100 ms).
        public var selectionInterval = 5
        /// For sources without an RFC 6464 extension and for the mixes' own extension: a
        /// measured level at or under this (i.e. louder than −50 dBov by default) is voice.
        public var voiceLevel: UInt8 = 50
        /// Payload bytes the inbox holds between two ticks before refusing packets.
        public var inboxBytes = 256 * 1024

        /// The defaults: three speakers, 40 ms playout delay, 32 kbit/s mixes.
        public init() {}
    }

    private struct Pending: Sendable {
        var listeners: Set<String>?
        var removed: [String] = []
    }

    /// The settings in force.
    public let settings: Settings
    private let host: TickHost<AudioMixEngine, Pending, AudioMixerCounters>

    /// Creates a mixer; throws when the Opus settings are refused.
    public init(settings: Settings = Settings()) throws(CodecError) {
        self.settings = settings
        let inbox = PacketInbox(maxBytes: settings.inboxBytes, packetCapacity: 1024)
        host = TickHost(inbox: inbox, engine: try AudioMixEngine(settings: settings, inbox: inbox), idle: Pending(),
                        counters: AudioMixerCounters())
    }

    /// Queues one Opus packet (RFC 7587 payload, one 20 ms frame) of `source`, with the
    /// packet's RFC 6464 level when it carried the extension (else the mixer measures the
    /// decoded audio). Copies the payload; cheap and safe on the media thread.
    public func push(source: String, sequence: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer,
                     level: AudioLevelExtension? = nil) {
        host.inbox.push(source: source, sequence: sequence, timestamp: timestamp, marker: false, level: level, payload: payload)
    }

    /// Sets who receives the mix (from the next tick). A listener that is also a seated
    /// source gets its mix-minus; a new listener's stream starts with a fresh numbering.
    public func setListeners(_ listeners: some Sequence<String>) {
        let set = Set(listeners)
        host.post { $0.listeners = set }
    }

    /// Forgets a source that left the meeting (from the next tick): its seat, decoder and buffer.
    public func removeSource(_ source: String) {
        host.post { $0.removed.append(source) }
    }

    /// Counters as of the end of the last tick.
    public var counters: AudioMixerCounters { host.counters }

    /// Runs one 20 ms tick and returns what to send; `skipped` ticks were left out just before
    /// it (the clock fell behind): the listeners' timestamps jump by their samples, so that
    /// the stream's time stays the wall clock's.
    public func tick(skipped: Int = 0) -> MixerOutput {
        host.tick({ engine, pending in
            if let listeners = pending.listeners { engine.setListeners(listeners) }
            for name in pending.removed { engine.removeSource(name) }
            return engine.tick(skipped: skipped)
        }, counters: \.counters)
    }
}
