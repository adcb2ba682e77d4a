/// A participant's requests (docs/protocol.md, "Client → server"): its own state, the chair's
/// controls, and media requests handed on.
extension RoomState {
    /// A decoded request from `caller`: chair-only types are refused to others first.
    mutating package func handle(_ request: RoomRequest, from caller: RoomEvent.Caller, now: Int64) -> [RoomAction] {
        func refuse(_ message: String) -> [RoomAction] { [.reply(connection: caller.connection, .error(message))] }
        if RoomRequest.chairOnly.contains(request.type), !caller.isChair { return refuse("only the chair may \(request.type)") }
        let own = caller.subject
        switch request {
        case .ping:
            return [.reply(connection: caller.connection, .pong)]
        case .leave:
            if seats[own]?.connection == caller.connection { seats[own]?.leaving = true }
            return [.reply(connection: caller.connection, .bye)]
        case .mute(let audio):
            seats[own]?.audioMuted = audio
            return rosterChanged()
        case .hand(let raised):
            seats[own]?.hand = raised
            return rosterChanged()
        case .publish where caller.role == .observer:
            return refuse("an observer does not publish")
        case .publish, .restartPublish, .subscribe, .sessionLayer, .downlinkLayer, .downlink, .answer, .restart, .mode:
            return [.media(caller, request)]
        case .muteParticipant, .spotlight, .lock, .end, .askUnmute, .lowerHand, .record, .camera:
            return chairControl(request, from: caller, now: now)
        }
    }
}
