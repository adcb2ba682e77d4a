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
        var created: MeetingMix?
        if mixed, rooms.withLock({ $0[id]?.mix == nil }) {
            do {
                created = try MeetingMix(meeting: id, speakers: loudestAudio > 0 ? loudestAudio : 3, video: mixVideo, media: sessions.media)
            } catch {
                return HubMessage.error("cannot start the meeting's mixer: \(error)")
            }
        }
        let seated = rooms.withLock { all -> (mix: MeetingMix?, isNew: Bool, actor: RoomActor)? in
            guard var room = all[id], room.participants[claims.sub] != nil else { return nil }
            var isNew = false
            if room.mix == nil, let created {
                room.mix = created
                isNew = true
            }
            all[id] = room
            return (room.mix, isNew, room.actor)
        }
        // The seat's mode is the room's (the roster shows it, the layout follows).
        await seated?.actor.post(.modeChanged(subject: claims.sub, mixed: mixed))
        let state = rooms.withLock { all -> (mix: MeetingMix?, listeners: [String], publishing: [String], isNew: Bool) in
            guard let room = all[id], let seated else { return (nil, [], [], false) }
            let listeners = room.participants.filter { $0.value.mixed }.map { Self.stream(meeting: id, subject: $0.key) }
            let publishing = room.participants.filter { $0.value.publishing != nil }.map { Self.stream(meeting: id, subject: $0.key) }
            return (seated.mix, listeners, publishing, seated.isNew)
        }
        if let mix = state.mix {
            mix.mixer.setListeners(state.listeners)
            if !mixed { mix.peers.map.withLock { $0[Self.stream(meeting: id, subject: claims.sub)] = nil } }
            if state.isNew {
                let compositor = mix.compositor
                await sessions.media.send(.startMix(stream: mix.stream, tracks: MeetingMix.tracks,
                                                    keyframeRequested: { compositor.requestKeyframe() },
                                                    sources: state.publishing, audio: mix.mixer, video: compositor))
                mix.start()
                logger.info("meeting mix started", metadata: ["meeting": "\(id)", "speakers": "\(max(1, loudestAudio))"])
            }
        }
        // A downlink carries the mix in mixed mode, everyone's streams otherwise.
        await offerDownlinks(meeting: id, subjects: [claims.sub], force: false)
        return RoomOutbound.mode(mixed: mixed).text
    }
}
