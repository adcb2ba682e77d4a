import GiaobanAuth
import GiaobanRooms

/// The chair's controls in the audit trail (docs/audit.md): one row per control asked for,
/// with the room's answer: `ok`, `refused: …` for a participant who is not the chair, or
/// `error: …` (the target is not in the room).
extension MeetingRooms {
    /// The audit action, target and detail of a chair's control; nil for any other request.
    static func auditAction(_ request: RoomRequest, meeting id: Int64) -> (action: String, target: String, detail: String)? {
        let room = "meeting/\(id)"
        switch request {
        case .muteParticipant(let participant, let muted): return (muted ? "room.mute" : "room.unmute", "\(room)/\(participant)", "")
        case .spotlight(let participant): return ("room.spotlight", participant.map { "\(room)/\($0)" } ?? room, participant == nil ? "cleared" : "")
        case .lock(let locked): return (locked ? "meeting.lock" : "meeting.unlock", room, "")
        case .end: return ("meeting.end", room, "")
        case .askUnmute(let participant): return ("room.ask_unmute", "\(room)/\(participant)", "")
        case .lowerHand(let participant): return ("room.lower_hand", "\(room)/\(participant)", "")
        case .record(let on): return (on ? "recording.start" : "recording.stop", room, "")
        case .camera(let camera, let on): return ("room.camera", "\(room)/\(camera)", on ? "in" : "out")
        default: return nil
        }
    }

    /// Records `request` when it is a chair's control, with the outcome its `replies` tell.
    func audit(_ request: RoomRequest, replies: [RoomOutbound], meeting id: Int64, claims: TokenClaims) async {
        guard let (action, target, detail) = Self.auditAction(request, meeting: id) else { return }
        let failure = replies.lazy.compactMap { reply -> String? in if case .error(let message) = reply { message } else { nil } }.first
        let chair = claims.role == .chair || claims.role == .admin
        let result = failure.map { chair ? "error: \($0)" : "refused: \($0)" } ?? "ok"
        await hub.audit(claims, action, target: target, detail: detail, result: result)
    }
}
