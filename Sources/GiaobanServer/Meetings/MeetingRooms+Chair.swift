import GiaobanEngine
import Logging

/// The chair's controls (docs/protocol.md, "Client → server"): mute a participant at the relay, the
/// spotlight, the lock, asking to unmute, lowering a hand, ending the meeting.
extension MeetingRooms {
    func chairControl(_ message: RoomMessage.Request, meeting id: Int64, chair: String) async -> String? {
        switch message.type {
        case "mute_participant":
            guard let target = message.participant, let muted = message.muted else {
                return HubMessage.error(#"mute_participant needs "participant" and "muted""#)
            }
            guard update(id, { room -> Bool in
                guard room.participants[target] != nil else { return false }
                room.participants[target]?.mutedByChair = muted
                return true
            }) else { return HubMessage.error("'\(target.prefix(64))' is not in the room") }
            let stream = Self.stream(meeting: id, subject: target)
            await sessions.media.send(.setAudioMuted(stream: stream, muted: muted))
            hub.events.publish(HubMessage.encode(RoomMessage.MutedByChair(muted: muted, by: chair)), to: Self.channel(id, target))
            logger.notice("participant muted by the chair", metadata: ["meeting": "\(id)", "participant": "\(target)", "muted": "\(muted)"])
        case "spotlight":
            if let target = message.participant {
                guard update(id, { room -> Bool in
                    guard room.participants[target] != nil else { return false }
                    room.spotlight = target
                    return true
                }) else { return HubMessage.error("'\(target.prefix(64))' is not in the room") }
            } else {
                update(id) { $0.spotlight = nil }
            }
        case "lock":
            guard let locked = message.locked else { return HubMessage.error(#"lock needs "locked": true or false"#) }
            update(id) { $0.locked = locked }
        case "ask_unmute":
            // The relay cannot turn a participant's microphone on: it asks them to.
            guard let target = message.participant else { return HubMessage.error(#"ask_unmute needs "participant""#) }
            guard rooms.withLock({ $0[id]?.participants[target] != nil }) else {
                return HubMessage.error("'\(target.prefix(64))' is not in the room")
            }
            hub.events.publish(HubMessage.encode(RoomMessage.UnmuteRequested(by: chair)), to: Self.channel(id, target))
            logger.info("participant asked to unmute", metadata: ["meeting": "\(id)", "participant": "\(target)"])
        case "lower_hand":
            guard let target = message.participant else { return HubMessage.error(#"lower_hand needs "participant""#) }
            guard update(id, { room -> Bool in
                guard room.participants[target] != nil else { return false }
                room.participants[target]?.hand = false
                return true
            }) else { return HubMessage.error("'\(target.prefix(64))' is not in the room") }
        default: // end
            hub.events.publish(HubMessage.encode(RoomMessage.Notice(type: "ended", message: "the chair ended the meeting")),
                               to: Self.channel(id))
            let subjects = rooms.withLock { Array(($0[id]?.participants ?? [:]).keys) }
            for subject in subjects {
                hub.events.publish(HubMessage.encode(RoomMessage.Notice(type: "ended", message: "the chair ended the meeting")),
                                   to: Self.channel(id, subject))
            }
            logger.notice("meeting ended by the chair", metadata: ["meeting": "\(id)", "chair": "\(chair)"])
        }
        return nil
    }
}
