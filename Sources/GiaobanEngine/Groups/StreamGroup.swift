public import GiaobanRTP

/// Published streams that hear and see each other (a meeting room), as the media thread
/// knows them: their active speaker, whose audio is forwarded (the K loudest) and whose video
/// is (the last-N speakers). Members are named explicitly, never by a name pattern.
///
/// The decisions are pure: `update(levels:)` takes one tick of levels and returns the new
/// speaker; `audioGates` and `videoGates` say what each member's gates should be. The router
/// feeds it from its streams and applies the gates that differ (`MediaRouter+Groups.swift`).
public struct StreamGroup {
    /// The group's rules, set by the control plane with `MediaCommand.setGroup`.
    public struct Settings: Sendable, Equatable {
        /// How often levels are read, the speaker re-evaluated and the gates applied.
        public var interval: Duration = .milliseconds(200)
        /// How many of the loudest members' audio is forwarded (0: everyone's, no audio gate).
        public var loudestAudio = 0
        /// Only the video of the last this-many speakers (plus `alwaysForwarded`) is forwarded
        /// (0: everyone's, no video gate).
        public var lastN = 0
        /// Members whose video the last-N rule never holds back (a meeting's chair, its spotlight).
        public var alwaysForwarded: Set<String> = []
        /// The active speaker's smoothing, margins and hold times.
        public var speaker = DominantSpeaker.Settings()

        /// No gates, a 200 ms tick, the detector's defaults.
        public init() {}
    }

    /// The group's name, as the control plane chose it.
    let id: String
    var settings: Settings
    /// Member streams, in the order the last-N rule tops up with (joining order).
    private(set) var members: [String] = []
    var detector: DominantSpeaker
    /// Members who held the floor, most recent first (at most 64).
    private(set) var recent: [String] = []
    /// When the group runs next (nil: at the next timer tick).
    var nextRun: ContinuousClock.Instant?

    init(id: String, settings: Settings) {
        self.id = id
        self.settings = settings
        detector = DominantSpeaker(settings: settings.speaker)
    }

    /// New rules; the detector starts over only when its own settings change.
    mutating func configure(_ settings: Settings) {
        if settings.speaker != self.settings.speaker { detector = DominantSpeaker(settings: settings.speaker) }
        if settings.interval != self.settings.interval { nextRun = nil }
        self.settings = settings
    }

    /// Sets the members; returns those that left (forgotten by the detector; the router
    /// releases their gates). Who spoke recently is kept: a member who comes back is still recent.
    mutating func setMembers(_ streams: [String]) -> [String] {
        let kept = Set(streams)
        let left = members.filter { !kept.contains($0) }
        for stream in left { detector.remove(stream) }
        members = streams
        return left
    }

    /// One tick of the members' levels (level and voice flag; muted members left out). Returns
    /// the member who takes the floor, nil when it does not move.
    mutating func update(levels: [String: (level: UInt8, voice: Bool)]) -> String? {
        guard let floor = detector.update(levels: levels) else { return nil }
        recent.removeAll { $0 == floor }
        recent.insert(floor, at: 0)
        if recent.count > 64 { recent.removeLast() }
        return floor
    }

    /// The loudest-K rule: for each of `streams`, whether its audio is held back (every stream
    /// but the K loudest above silence). Empty when the rule is off.
    func audioGates(_ streams: [String]) -> [String: Bool] {
        guard settings.loudestAudio > 0 else { return [:] }
        let open = Set(detector.loudest(settings.loudestAudio))
        return Dictionary(streams.map { ($0, !open.contains($0)) }, uniquingKeysWith: { a, _ in a })
    }

    /// The last-N rule: for each member, whether its video is held back. The N most recent
    /// speakers are let through — topped up in member order while fewer than N have spoken —
    /// and so are `alwaysForwarded`. Empty when the rule is off.
    func videoGates() -> [String: Bool] {
        guard settings.lastN > 0 else { return [:] }
        return Self.videoGates(members: members, recent: recent, always: settings.alwaysForwarded, lastN: settings.lastN)
    }

    /// `videoGates()` as a function of its inputs.
    static func videoGates(members: [String], recent: [String], always: Set<String>, lastN: Int) -> [String: Bool] {
        let present = Set(members)
        var open = Array(recent.filter { present.contains($0) && !always.contains($0) }.prefix(lastN))
        for candidate in members where open.count < lastN && !always.contains(candidate) && !open.contains(candidate) {
            open.append(candidate)
        }
        let through = Set(open).union(always)
        return Dictionary(members.map { ($0, !through.contains($0)) }, uniquingKeysWith: { a, _ in a })
    }
}
