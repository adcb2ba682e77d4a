import GiaobanEngine

extension MeetingRooms {
    /// Every 2 s, reads each publishing participant's upstream loss and jitter from the relay;
    /// the roster goes out again when one changed noticeably (2 % loss, 10 ms jitter).
    func refreshLinks(_ id: Int64) async {
        let due = rooms.withLock { all -> Bool in
            guard var room = all[id] else { return false }
            room.ticksSinceLinks += 1
            let due = speakerTick * room.ticksSinceLinks >= .seconds(2)
            if due { room.ticksSinceLinks = 0 }
            all[id] = room
            return due
        }
        guard due else { return }
        // The catch-all for downlinks: a publisher that vanished without leaving (a timeout).
        await renegotiateDownlinks(id)
        let prefix = "m\(id)-"
        let quality = await sessions.media.ask(.upstreamQuality).filter { $0.stream.hasPrefix(prefix) }
        let byStream = Dictionary(quality.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
        let changed = rooms.withLock { all -> Bool in
            guard var room = all[id] else { return false }
            var changed = false
            for (subject, seat) in room.participants {
                let q = byStream[Self.stream(meeting: id, subject: subject)]
                let link = q.map { RoomMessage.Link(loss: ($0.loss * 1000).rounded() / 1000, jitter_ms: ($0.jitterMilliseconds * 10).rounded() / 10) }
                if Self.differs(seat.link, link) { changed = true }
                room.participants[subject]?.link = link
            }
            all[id] = room
            return changed
        }
        if changed { broadcastRoster(id) }
    }

    /// True when two link readings differ enough to tell everyone.
    static func differs(_ a: RoomMessage.Link?, _ b: RoomMessage.Link?) -> Bool {
        switch (a, b) {
        case (nil, nil): return false
        case (let a?, let b?): return abs(a.loss - b.loss) >= 0.02 || abs(a.jitter_ms - b.jitter_ms) >= 10
        default: return true
        }
    }

    /// Holds back the video of every publishing participant who is not among the room's
    /// last-N speakers, the chair or the spotlight; lets the others through.
    func applyLastN(_ id: Int64) async {
        let plan = rooms.withLock { all -> (publishing: [(subject: String, joinedAt: Int64)], recent: [String], always: Set<String>)? in
            guard let room = all[id] else { return nil }
            let publishing = room.participants.filter { $0.value.publishing != nil }.map { ($0.key, $0.value.joinedAt) }
            var always = Set(room.participants.filter { $0.value.role == .chair || $0.value.role == .admin }.keys)
            if let spotlight = room.spotlight { always.insert(spotlight) }
            return (publishing, room.recentSpeakers, always)
        }
        guard let plan else { return }
        let prefix = "m\(id)-"
        let current = Set(await sessions.media.ask(.videoGatedStreams).filter { $0.hasPrefix(prefix) })
        let gates = Self.videoGates(publishing: plan.publishing, recent: plan.recent, always: plan.always, lastN: lastN)
        var changes: [String: Bool] = [:]
        for (subject, gated) in gates {
            let stream = Self.stream(meeting: id, subject: subject)
            if current.contains(stream) != gated { changes[stream] = gated }
        }
        guard !changes.isEmpty else { return }
        await sessions.media.send(.setVideoGates(changes))
    }

    /// Last-N: which publishing participants' video is held back. The N most recent speakers
    /// are let through — topped up in joining order while fewer than N have spoken — and so
    /// are `always` (the chair, the spotlight).
    static func videoGates(publishing: [(subject: String, joinedAt: Int64)], recent: [String], always: Set<String>,
                           lastN: Int) -> [String: Bool] {
        let present = Set(publishing.map(\.subject))
        var open = Array(recent.filter { present.contains($0) && !always.contains($0) }.prefix(lastN))
        for candidate in publishing.sorted(by: { ($0.joinedAt, $0.subject) < ($1.joinedAt, $1.subject) })
        where open.count < lastN && !always.contains(candidate.subject) && !open.contains(candidate.subject) {
            open.append(candidate.subject)
        }
        let through = Set(open).union(always)
        return Dictionary(uniqueKeysWithValues: publishing.map { ($0.subject, !through.contains($0.subject)) })
    }

    /// The gate changes that forward only the `loudest` streams' audio: every other stream of
    /// the room is held back. Returns only streams whose gate must change.
    static func audioGates(streams: [String], loudest: [String], current: [String: Bool]) -> [String: Bool] {
        var changes: [String: Bool] = [:]
        let open = Set(loudest)
        for stream in streams {
            let gated = !open.contains(stream)
            if current[stream] != gated { changes[stream] = gated }
        }
        return changes
    }
}
