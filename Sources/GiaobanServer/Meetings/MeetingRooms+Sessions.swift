import GiaobanEngine
import GiaobanWire

/// A participant's own media sessions: `publish` and `subscribe` (the client offers), and
/// the simulcast layer of a receiving session.
extension MeetingRooms {
    /// The rank of a `layer` field (nil when absent), or an error reply.
    static func layerRank(_ message: RoomMessage.Request) -> Result<Int?, RoomError> {
        guard let name = message.layer else { return .success(nil) }
        guard let rank = RoomMessage.layers.firstIndex(of: name) else {
            return .failure(RoomError(#"layer: one of "low", "medium", "high""#))
        }
        return .success(rank)
    }

    /// `layer`: caps the simulcast layer of one of the sender's receiving sessions (a thumbnail
    /// or the main view); the relay still goes lower when the link needs it.
    func chooseLayer(_ message: RoomMessage.Request, claims: TokenClaims) async -> String? {
        guard let session = message.session, message.layer != nil else { return HubMessage.error(#"layer needs "session" and "layer""#) }
        let rank: Int?
        switch Self.layerRank(message) {
        case .success(let value): rank = value
        case .failure(let error): return HubMessage.error(error.message)
        }
        guard let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub) else {
            return HubMessage.error("no receiving session '\(session.prefix(64))' of yours")
        }
        await sessions.media.send(.setMaxLayer(peer: peer, stream: nil, rank: rank))
        return nil
    }

    /// `publish`: the participant's own stream; `subscribe`: another participant's stream.
    func negotiate(_ message: RoomMessage.Request, meeting id: Int64, claims: TokenClaims) async -> String? {
        let publishing = message.type == "publish"
        if publishing, claims.role == .observer { return HubMessage.error("an observer does not publish") }
        guard let sdp = message.sdp else { return HubMessage.error("\(message.type) needs \"sdp\": the offer") }
        let layer: Int?
        switch Self.layerRank(message) {
        case .success(let value): layer = value
        case .failure(let error): return HubMessage.error(error.message)
        }
        let target = publishing ? claims.sub : (message.participant ?? "")
        let toMix = !publishing && target == "mix"
        if toMix {
            guard rooms.withLock({ $0[id]?.participants[claims.sub]?.mixed == true }) else {
                return HubMessage.error(#"subscribe to "mix" needs mixed mode first: {"type": "mode", "mode": "mixed"}"#)
            }
        } else {
            guard publishing || rooms.withLock({ $0[id]?.participants[target] != nil }) else {
                return HubMessage.error("'\(target.prefix(64))' is not in the room")
            }
        }
        let offer: SessionDescription
        do { offer = try SessionDescription(parsing: sdp) } catch {
            return HubMessage.error("malformed SDP offer: \(error)")
        }
        let stream = toMix ? MeetingMix.stream(meeting: id) : Self.stream(meeting: id, subject: target)
        do throws(PlainError) {
            let (session, answer) = try await sessions.open(kind: publishing ? "whip" : "whep", stream: stream, offer: offer, claims: claims)
            if publishing {
                let mutedByChair = update(id) { room -> Bool in
                    room.participants[claims.sub]?.publishing = session
                    return room.participants[claims.sub]?.mutedByChair ?? false
                }
                Task { await self.renegotiateDownlinks(id) }
                if mutedByChair { await sessions.media.send(.setAudioMuted(stream: stream, muted: true)) }
                if let mix = rooms.withLock({ $0[id]?.mix }) {
                    await sessions.media.send(.addSinks(streams: [stream], audio: mix.mixer, video: mix.compositor))
                }
            } else if toMix, let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub),
                      let mix = rooms.withLock({ $0[id]?.mix }) {
                mix.peers.map.withLock { $0[Self.stream(meeting: id, subject: claims.sub)] = peer }
            } else if let layer, let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub) {
                await sessions.media.send(.setMaxLayer(peer: peer, stream: nil, rank: layer))
            }
            return HubMessage.encode(RoomMessage.Answer(type: "answer", request: message.type, participant: target,
                                                        stream: stream, session: session, sdp: answer.serialize()))
        } catch {
            return HubMessage.error("\(message.type): \(error.message)")
        }
    }
}
