import Foundation
import GiaobanEngine
import GiaobanMixer
import GiaobanAuth
import GiaobanHub
import GiaobanRooms

/// Mixed mode in rooms (docs/mixing.md): the meeting's mix starts with its first listener.
extension MeetingRooms {
    /// Stops a meeting's mix: its clock, the copies to its mixer and compositor, the local stream.
    func stopMix(_ mix: MeetingMix, meeting id: Int64) async {
        mix.stop()
        await sessions.media.send(.stopMix(stream: mix.stream, audio: mix.mixer, video: mix.compositor))
        logger.info("meeting mix stopped", metadata: ["meeting": "\(id)"])
    }

    /// `mode`: `mixed` gives the participant one mix-minus audio stream of the meeting's loudest
    /// speakers (then `subscribe` to `"mix"`); `forwarded` returns to per-participant streams.
    func setMode(mixed: Bool, meeting id: Int64, claims: TokenClaims) async -> String? {
        guard let actor = rooms.withLock({ $0[id]?.participants[claims.sub] != nil ? $0[id]?.actor : nil }) else {
            return RoomOutbound.mode(mixed: mixed).text
        }
        var mix = rooms.withLock { $0[id]?.mix }
        if mixed, mix == nil {
            do { mix = try await ensureMix(meeting: id) } catch {
                return HubMessage.error("cannot start the meeting's mixer: \(error)")
            }
        }
        // The seat's mode is the room's (the roster shows it, the layout follows).
        await actor.post(.modeChanged(subject: claims.sub, mixed: mixed))
        if let mix {
            mix.setListeners(rooms.withLock { all in
                all[id]?.participants.filter { $0.value.mixed }.map { Self.stream(meeting: id, subject: $0.key) } ?? []
            })
            if !mixed { mix.peers.map.withLock { $0[Self.stream(meeting: id, subject: claims.sub)] = nil } }
        }
        // A downlink carries the mix in mixed mode, everyone's streams otherwise.
        await offerDownlinks(meeting: id, subjects: [claims.sub], force: false)
        return RoomOutbound.mode(mixed: mixed).text
    }

    /// Meeting `id`'s mix, started now (fed by every publishing participant, composed as the
    /// room's layout says) when it has none; nil when the room is gone.
    func ensureMix(meeting id: Int64) async throws -> MeetingMix? {
        if let mix = rooms.withLock({ $0[id]?.mix }) { return mix }
        let created = try MeetingMix(meeting: id, speakers: loudestAudio > 0 ? loudestAudio : 3, video: mixVideo, media: sessions.media)
        let state = rooms.withLock { all -> (mix: MeetingMix, isNew: Bool, publishing: [String], layout: RoomAction?)? in
            guard var room = all[id] else { return nil }
            if let mix = room.mix { return (mix, false, [], nil) }
            room.mix = created
            all[id] = room
            let publishing = room.participants.filter { $0.value.publishing != nil }.map { Self.stream(meeting: id, subject: $0.key) }
            return (created, true, publishing, room.state.layout())
        }
        guard let state else { return nil }
        guard state.isNew else { return state.mix }
        let compositor = created.compositor
        if case .setLayout(let main, let inset) = state.layout { compositor.setLayout(main: main, inset: inset) }
        await sessions.media.send(.startMix(stream: created.stream, tracks: MeetingMix.tracks,
                                            keyframeRequested: { compositor.requestKeyframe() },
                                            sources: state.publishing, audio: created.mixer, video: compositor))
        created.start()
        logger.info("meeting mix started", metadata: ["meeting": "\(id)", "speakers": "\(max(1, loudestAudio))"])
        return created
    }
}
