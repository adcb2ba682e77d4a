import GiaobanEngine
import GiaobanWire
import GiaobanAuth
import GiaobanHub
import GiaobanRooms

/// A participant's own media sessions: `publish` and `subscribe` (the client offers), and
/// the simulcast layer of a receiving session.
extension MeetingRooms {
    /// `layer`: caps the simulcast layer of one of the sender's receiving sessions (a thumbnail
    /// or the main view); the relay still goes lower when the link needs it.
    func chooseLayer(session: String, layer rank: Int, claims: TokenClaims) async -> String? {
        guard let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub) else {
            return HubMessage.error("no receiving session '\(session.prefix(64))' of yours")
        }
        await sessions.media.send(.setMaxLayer(peer: peer, stream: nil, rank: rank))
        return nil
    }

    /// `publish`: the participant's own stream; `subscribe`: another participant's stream.
    func negotiate(publishing: Bool, target: String, sdp: String, layer: Int?, meeting id: Int64, claims: TokenClaims) async -> String? {
        let type = publishing ? "publish" : "subscribe"
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
                // The room shows it in the roster, offers it to the downlinks, applies a chair's mute.
                await post(id, .published(subject: claims.sub, session: session))
                if let mix = rooms.withLock({ $0[id]?.mix }) {
                    await sessions.media.send(.addSinks(streams: [stream], audio: mix.mixer, video: mix.compositor))
                }
                await recordPublished(meeting: id, subject: claims.sub)
            } else if toMix, let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub),
                      let mix = rooms.withLock({ $0[id]?.mix }) {
                mix.peers.map.withLock { $0[Self.stream(meeting: id, subject: claims.sub)] = peer }
            } else if let layer, let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub) {
                await sessions.media.send(.setMaxLayer(peer: peer, stream: nil, rank: layer))
            }
            return RoomOutbound.answer(RoomMessage.Answer(type: "answer", request: type, participant: target,
                                                          stream: stream, session: session, sdp: answer.serialize())).text
        } catch {
            return HubMessage.error("\(type): \(error.message)")
        }
    }
}
