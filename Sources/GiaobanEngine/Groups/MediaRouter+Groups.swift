/// Stream groups on the media thread: created and changed by commands, run on the timer.
/// Each run reads its members' RFC 6464 levels, moves the floor, applies the loudest-K audio
/// and last-N video gates that changed, and reports a new speaker as `MediaEvent.speakerChanged`.
extension MediaRouter {
    /// Creates group `id` with `settings`, or changes the settings of the existing one.
    public func setGroup(id: String, settings: StreamGroup.Settings) {
        if groups[id] == nil {
            groups[id] = StreamGroup(id: id, settings: settings)
        } else {
            groups[id]?.configure(settings)
        }
    }

    /// Sets group `id`'s member streams, in joining order (the last-N rule tops up in it);
    /// members that left have their gates released. False when there is no such group.
    @discardableResult
    public func setGroupMembers(id: String, streams members: [String], now: ContinuousClock.Instant, out: OutputQueue) -> Bool {
        guard var group = groups[id] else { return false }
        let left = group.setMembers(members)
        groups[id] = group
        release(left, now: now, out: out)
        return true
    }

    /// Removes group `id` and releases its members' gates.
    public func removeGroup(id: String, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let group = groups.removeValue(forKey: id) else { return }
        release(group.members, now: now, out: out)
    }

    /// The member streams of group `id` (in joining order) and its speaker; nil when there is no such group.
    public func group(id: String) -> (members: [String], speaker: String?)? {
        groups[id].map { ($0.members, $0.detector.speaker) }
    }

    /// Lets the audio and video of `members` through again (they left their group).
    func release(_ members: [String], now: ContinuousClock.Instant, out: OutputQueue) {
        for name in members {
            streams[name]?.policy.audioGated = false
            setVideoGated(stream: name, false, now: now, out: out)
        }
    }

    /// Runs every group whose interval is up (called by `tick`).
    func runGroups(now: ContinuousClock.Instant, out: OutputQueue) {
        guard !groups.isEmpty else { return }
        var due: [String] = []
        for (id, group) in groups where group.nextRun.map({ now >= $0 }) ?? true { due.append(id) }
        for id in due { runGroup(id, now: now, out: out) }
    }

    /// One run of group `id`: the members' levels (a chair-muted member's are left out) into
    /// the detector, then the gates that differ from the streams' policies, then the event.
    func runGroup(_ id: String, now: ContinuousClock.Instant, out: OutputQueue) {
        guard var group = groups[id] else { return }
        group.nextRun = now + group.settings.interval
        var levels: [String: (level: UInt8, voice: Bool)] = [:]
        var publishing: [String] = []
        for name in group.members {
            guard let stream = streams[name], stream.publisher != nil else { continue }
            publishing.append(name)
            if !stream.policy.muted, let level = stream.audioLevel { levels[name] = (level.level, level.voiceActivity) }
        }
        let floor = group.update(levels: levels)
        let video = group.videoGates()
        let audio = group.audioGates(publishing)
        groups[id] = group
        for (name, gated) in video where streams[name]?.policy.videoGated == !gated {
            setVideoGated(stream: name, gated, now: now, out: out)
        }
        for (name, gated) in audio where streams[name]?.policy.audioGated == !gated {
            streams[name]?.policy.audioGated = gated
        }
        if let floor { events.append(.speakerChanged(group: id, stream: floor)) }
    }
}
