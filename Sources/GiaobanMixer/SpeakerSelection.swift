public import GiaobanRTP

/// The set of up to `seats` sources whose audio goes into the mix, with hysteresis: the
/// meeting's `DominantSpeaker` smooths each source's loudness (and names the dominant
/// speaker for the video layout); on top of it a seat is held until its occupant has been
/// under `silence` for `releaseTicks` updates, and when all seats are taken a newcomer
/// takes the quietest occupant's seat only after leading it by `margin` for
/// `switchTicks` updates in a row. Free seats go at once to anyone above `silence`.
///
/// Levels are gathered every mixer tick and fed to the detector every `interval` ticks
/// (the loudest level of the window per source), so the detector's tuning keeps its
/// meaning at 100 ms updates whatever the mixer's tick.
public struct SpeakerSelection: Sendable {
    /// The most sources mixed at once.
    public let seats: Int
    /// Mixer ticks per detector update.
    public let interval: Int
    /// Loudness smoothing, margins and hold times (see `DominantSpeaker.Settings`).
    public let settings: DominantSpeaker.Settings
    /// The loudness detector (its `speaker` is the dominant speaker).
    public private(set) var detector: DominantSpeaker
    /// The seated sources, in the order they were seated.
    public private(set) var speakers: [String] = []

    private var window: [String: (level: UInt8, voice: Bool)] = [:]
    private var ticks = 0
    private var quiet: [String: Int] = [:]
    private var challenger: String?
    private var challengerTicks = 0

    /// A selection of `seats` speakers updated every `interval` ticks.
    public init(seats: Int, interval: Int = 5, settings: DominantSpeaker.Settings = .init()) {
        precondition(seats > 0 && interval > 0)
        self.seats = seats
        self.interval = interval
        self.settings = settings
        detector = DominantSpeaker(settings: settings)
    }

    /// Records `source`'s level for this tick (RFC 6464: 0 loudest, 127 silence).
    public mutating func record(_ source: String, level: UInt8, voice: Bool) {
        if let seen = window[source] {
            window[source] = (min(seen.level, level), seen.voice || voice)
        } else {
            window[source] = (level, voice)
        }
    }

    /// Ends a tick; every `interval` ticks updates the detector and the seats. Returns
    /// true when the seated set changed.
    public mutating func endTick() -> Bool {
        ticks += 1
        guard ticks >= interval else { return false }
        ticks = 0
        _ = detector.update(levels: window)
        window.removeAll(keepingCapacity: true)
        return reseat()
    }

    /// Forgets a source that left; frees its seat at once.
    public mutating func remove(_ source: String) {
        detector.remove(source)
        window.removeValue(forKey: source)
        quiet.removeValue(forKey: source)
        speakers.removeAll { $0 == source }
        if challenger == source { challenger = nil; challengerTicks = 0 }
    }

    private mutating func reseat() -> Bool {
        let loudness = detector.loudness
        let before = speakers
        // Release seats held in silence for long enough.
        for s in speakers {
            let q = (loudness[s] ?? 0) < settings.silence ? (quiet[s] ?? 0) + 1 : 0
            quiet[s] = q
        }
        speakers.removeAll { quiet[$0, default: 0] >= settings.releaseTicks }
        for s in before where !speakers.contains(s) { quiet.removeValue(forKey: s) }
        // Fill free seats with the loudest others above silence.
        let others = detector.loudest(loudness.count).filter { !speakers.contains($0) }
        var rest = others[...]
        while speakers.count < seats, let next = rest.first {
            speakers.append(next)
            quiet[next] = 0
            rest = rest.dropFirst()
        }
        // All seats taken: a challenger must lead the quietest occupant clearly, for a while.
        if let best = rest.first,
           let weakest = speakers.min(by: { (loudness[$0] ?? 0) < (loudness[$1] ?? 0) }),
           (loudness[best] ?? 0) >= (loudness[weakest] ?? 0) + settings.margin {
            challengerTicks = challenger == best ? challengerTicks + 1 : 1
            challenger = best
            if challengerTicks >= settings.switchTicks {
                speakers[speakers.firstIndex(of: weakest)!] = best
                quiet.removeValue(forKey: weakest)
                quiet[best] = 0
                challenger = nil
                challengerTicks = 0
            }
        } else {
            challenger = nil
            challengerTicks = 0
        }
        return speakers != before
    }
}
