/// The chair's controls (docs/protocol.md, "Client → server"): mute a participant at the relay,
/// the spotlight, the lock, asking to unmute, lowering a hand, ending the meeting. The caller
/// has been checked to be the chair or an admin.
extension RoomState {
    /// One of the chair's controls, from the chair or an admin.
    mutating package func chairControl(_ request: RoomRequest, from chair: RoomEvent.Caller, now: Int64) -> [RoomAction] {
        func notInRoom(_ target: String) -> [RoomAction] {
            [.reply(connection: chair.connection, .error("'\(target.prefix(64))' is not in the room"))]
        }
        func note(_ message: String, _ metadata: [String: String]) -> RoomAction {
            .log(RoomLogEntry(notice: true, message: message, metadata: ["meeting": "\(meeting)"].merging(metadata) { a, _ in a }))
        }
        switch request {
        case .muteParticipant(let target, let muted):
            guard seats[target] != nil else { return notInRoom(target) }
            seats[target]?.mutedByChair = muted
            return rosterChanged() + [
                .setAudioMuted(stream: stream(target), muted: muted),
                .send(subject: target, .muted(muted: muted, by: chair.subject)),
                note("participant muted by the chair", ["participant": target, "muted": "\(muted)"]),
            ]
        case .spotlight(let target?):
            guard seats[target] != nil else { return notInRoom(target) }
            spotlight = target
            return rosterChanged()
        case .spotlight(nil):
            spotlight = nil
            return rosterChanged()
        case .lock(let value):
            locked = value
            return rosterChanged()
        case .askUnmute(let target):
            // The relay cannot turn a participant's microphone on: it asks them to.
            guard seats[target] != nil else { return notInRoom(target) }
            return [.send(subject: target, .unmuteRequested(by: chair.subject)),
                    .log(RoomLogEntry(notice: false, message: "participant asked to unmute",
                                      metadata: ["meeting": "\(meeting)", "participant": target]))]
        case .lowerHand(let target):
            guard seats[target] != nil else { return notInRoom(target) }
            seats[target]?.hand = false
            return rosterChanged()
        case .record(let on):
            switch recordMode {
            case .off: return [.reply(connection: chair.connection, .error("recording is off on this server (meetings.record)"))]
            case .always where !on:
                return [.reply(connection: chair.connection, .error(#"this server records every meeting (meetings.record = "always")"#))]
            default: break
            }
            guard recording != on else { return [] }
            recording = on
            return [.setRecording(on)] + rosterChanged() + [note(on ? "recording started by the chair" : "recording stopped by the chair",
                                                                 ["chair": chair.subject])]
        case .camera(let id, let on):
            if on {
                if let seat = seats[id] {
                    return seat.role == .camera ? [] : [.reply(connection: chair.connection, .error("'\(id.prefix(64))' is a participant, not a camera"))]
                }
                seats[id] = Seat(role: .camera, connection: Self.cameraConnection, publishing: Self.cameraSession, joinedAt: now)
                return [.feedCamera(camera: id, stream: stream(id), on: true), .recordJoin(subject: id, role: .camera, at: now),
                        note("camera put into the meeting by the chair", ["camera": id, "chair": chair.subject])]
                    + rosterChanged() + [.renegotiateDownlinks]
            }
            guard seats[id]?.role == .camera else { return notInRoom(id) }
            return release(id, now: now)
        case .end:
            // Everyone hears it; each socket then closes, and its close gives the seat up.
            var actions: [RoomAction] = [.broadcast(.ended)]
            for subject in seats.keys.sorted() where seats[subject]?.role != .camera {
                guard let connection = seats[subject]?.connection else { continue }
                seats[subject]?.leaving = true
                actions.append(.close(subject: subject, connection: connection, .ended))
            }
            actions.append(note("meeting ended by the chair", ["chair": chair.subject]))
            return actions
        default:
            return []
        }
    }
}
