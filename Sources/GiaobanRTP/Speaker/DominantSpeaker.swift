/// Chooses the dominant speaker of a meeting from RFC 6464 audio levels, with hysteresis so
/// that a cough or a short overlap does not move the main view.
///
/// Call `update(levels:)` on a steady tick (e.g. every 100 ms) with each participant's latest
/// level. A participant's loudness is `127 − level` (0 = silence, 127 = 0 dBov), smoothed
/// exponentially; once a participant's sender has set the voice flag (RFC 6464 §3, which
/// browsers do), a sample without it counts as silence. Senders that never set it (aiortc
/// sends its measured level with V = 0 always) are judged by the level alone. The current speaker keeps the floor
/// until a challenger is louder by `margin` for `switchTicks` ticks in a row, or the current
/// speaker has been under `silence` for `releaseTicks` ticks while the challenger is above it.
public struct DominantSpeaker: Sendable {
    /// Tuning.
    public struct Settings: Sendable, Equatable {
        /// Weight of the newest sample in the smoothed loudness (0…1).
        public var smoothing = 0.3
        /// Loudness a challenger must exceed the speaker by (in dB of smoothed loudness).
        public var margin = 6.0
        /// Consecutive ticks the challenger must lead by `margin`.
        public var switchTicks = 5
        /// Smoothed loudness below which a participant counts as silent.
        public var silence = 10.0
        /// Consecutive silent ticks after which the floor may go to anyone above `silence`.
        public var releaseTicks = 10

        /// The defaults: at a 100 ms tick, a switch needs half a second of clear lead.
        public init() {}
    }

    let settings: Settings
    /// Smoothed loudness by participant.
    public private(set) var loudness: [String: Double] = [:]
    /// Participants whose sender has set the voice flag at least once.
    var flagsVoice: Set<String> = []
    /// The participant holding the floor.
    public private(set) var speaker: String?
    var challenger: String?
    var challengerTicks = 0
    var silentTicks = 0

    /// A detector with `settings`.
    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Feeds one tick of levels (participants absent from `levels` count as silent, and
    /// those that left should be `remove`d). Returns the new speaker when the floor moves.
    public mutating func update(levels: [String: (level: UInt8, voice: Bool)]) -> String? {
        for (id, reading) in levels where reading.voice { flagsVoice.insert(id) }
        for id in Set(loudness.keys).union(levels.keys) {
            let sample = levels[id].map { !$0.voice && flagsVoice.contains(id) ? 0 : Double(127 - min($0.level, 127)) } ?? 0
            loudness[id] = (loudness[id] ?? 0) * (1 - settings.smoothing) + sample * settings.smoothing
        }
        guard let (loudest, loudestValue) = loudness.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else {
            return nil
        }
        guard let current = speaker, let currentValue = loudness[current] else {
            guard loudestValue >= settings.silence else { return nil }
            return take(loudest)
        }
        if loudest == current {
            challenger = nil
            challengerTicks = 0
            silentTicks = 0
            return nil
        }
        silentTicks = currentValue < settings.silence ? silentTicks + 1 : 0
        if silentTicks >= settings.releaseTicks, loudestValue >= settings.silence { return take(loudest) }
        if loudestValue >= currentValue + settings.margin {
            challengerTicks = challenger == loudest ? challengerTicks + 1 : 1
            challenger = loudest
            if challengerTicks >= settings.switchTicks { return take(loudest) }
        } else {
            challenger = nil
            challengerTicks = 0
        }
        return nil
    }

    /// Forgets a participant who left; if it held the floor, nobody does until the next tick.
    public mutating func remove(_ id: String) {
        loudness.removeValue(forKey: id)
        flagsVoice.remove(id)
        if speaker == id { speaker = nil }
        if challenger == id { challenger = nil; challengerTicks = 0 }
    }

    /// The `count` loudest participants above silence, loudest first (the K loudest whose
    /// audio is forwarded, the last-N whose video is).
    public func loudest(_ count: Int) -> [String] {
        loudness.filter { $0.value >= settings.silence }
            .sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .prefix(max(0, count)).map(\.key)
    }

    mutating func take(_ id: String) -> String {
        speaker = id
        challenger = nil
        challengerTicks = 0
        silentTicks = 0
        return id
    }
}
