import GiaobanEngine

/// The active speaker on a steady tick (docs/protocol.md, "Active speaker"), with what follows
/// from it: the K loudest audio, last-N video, link quality, and the mix's layout.
extension MeetingRooms {
    /// The composed video's layout: the spotlight (else the chair) large, the active speaker small.
    func refreshLayout(_ id: Int64) {
        let layout = rooms.withLock { all -> (mix: MeetingMix, main: String?, inset: String?)? in
            guard let room = all[id], let mix = room.mix else { return nil }
            let chair = room.participants.filter { $0.value.role == .chair || $0.value.role == .admin }
                .min { $0.value.joinedAt < $1.value.joinedAt }?.key
            let main = room.spotlight ?? chair
            return (mix, main.map { Self.stream(meeting: id, subject: $0) }, room.speaker.map { Self.stream(meeting: id, subject: $0) })
        }
        guard let layout else { return }
        layout.mix.compositor.setLayout(main: layout.main, inset: layout.inset)
    }

    /// Re-evaluates the room's active speaker on a steady tick from the relay's audio levels.
    func startSpeakerTask(_ id: Int64) {
        rooms.withLock { all in
            guard all[id]?.speakerTask == nil else { return }
            all[id]?.speakerTask = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: self?.speakerTick ?? .milliseconds(200))
                    await self?.tickSpeaker(id)
                }
            }
        }
    }

    func tickSpeaker(_ id: Int64) async {
        let prefix = "m\(id)-"
        let activity = await sessions.media.ask(.audioActivity)
        var levels: [String: (level: UInt8, voice: Bool)] = [:]
        for a in activity where a.stream.hasPrefix(prefix) && !a.muted { if let level = a.level { levels[a.stream] = (level, a.voice) } }
        let (changed, loudest) = rooms.withLock { all -> (String?, [String]) in
            guard var room = all[id] else { return (nil, []) }
            defer { all[id] = room }
            let floor = room.detector.update(levels: levels)
            let loudest = room.detector.loudest(loudestAudio)
            guard let stream = floor,
                  let subject = room.participants.keys.first(where: { Self.stream(meeting: id, subject: $0) == stream }) else {
                return (nil, loudest)
            }
            room.speaker = subject
            room.recentSpeakers.removeAll { $0 == subject }
            room.recentSpeakers.insert(subject, at: 0)
            if room.recentSpeakers.count > 64 { room.recentSpeakers.removeLast() }
            return (subject, loudest)
        }
        if lastN > 0 { await applyLastN(id) }
        await refreshLinks(id)
        if loudestAudio > 0 {
            let gates = Self.audioGates(streams: activity.map(\.stream).filter { $0.hasPrefix(prefix) }, loudest: loudest,
                                        current: Dictionary(activity.map { ($0.stream, $0.gated) }, uniquingKeysWith: { a, _ in a }))
            if !gates.isEmpty {
                await sessions.media.send(.setAudioGates(gates))
            }
        }
        if let changed {
            refreshLayout(id)
            hub.events.publish(HubMessage.encode(RoomMessage.Speaker(participant: changed)), to: Self.channel(id))
        }
    }
}
