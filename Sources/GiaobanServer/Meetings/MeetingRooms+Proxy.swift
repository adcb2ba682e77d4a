import Foundation
import GiaobanAuth
import GiaobanClient
import GiaobanHub
import GiaobanRooms
import GiaobanStore
import HummingbirdWebSocket
import HummingbirdWSClient
import Logging
import Synchronization

/// Rooms held by another node, served through this one (`cluster.proxy_rooms`,
/// docs/postgresql.md, "A meeting's downlinks where the participant is"). A participant who
/// opens such a room here stays here: its room socket is passed to the holder (which seats it,
/// keeps the roster and the chair's controls, and answers its `publish`: its media goes up to
/// the holder), while its downlink is served by this node from the publishers' streams pulled
/// from the holder over trunks, one copy each whatever the number of participants here. The
/// holder's policies reach these participants with the streams: a chair's mute, the K loudest
/// and last-N gates hold the packets back before they enter the trunk.
extension MeetingRooms {
    /// A room another node holds, as far as this node's downlinks need it: the seats from the
    /// holder's latest roster, the downlinks of the participants passed through here.
    struct ProxiedRoom: DownlinkRoom {
        var downlinkSeats: [String: DownlinkSeat] = [:]
        var downlinks: [String: Downlink] = [:]
        /// The meeting's mix is the holder's (mixed mode is served there).
        var mix: MeetingMix? { nil }
        /// The socket passed through for each subject here (its connection number).
        var sockets: [String: Int] = [:]
        /// The holder's base URL, where the publishers' streams are pulled from.
        var holder = ""

        /// The streams of room `id`'s publishers, by subject (as the holder's roster says).
        func publishing(meeting id: Int64) -> [String: String] {
            Dictionary(uniqueKeysWithValues: downlinkSeats.filter { $0.value.publishing != nil }.keys.map {
                ($0, MeetingRooms.stream(meeting: id, subject: $0))
            })
        }

        /// The publishers' streams the participants here take (or will, once they ask for
        /// their downlink): those of every publisher but one whose socket is the only one
        /// passed through here (nobody watches their own).
        func served(meeting id: Int64) -> [String] {
            publishing(meeting: id).filter { subject, _ in sockets.keys.contains { $0 != subject } }.map(\.value)
        }
    }

    /// The base URL of the node holding the room that `stream` (`m<id>-<subject>`) belongs to,
    /// when this node passes that room's sockets on: where a trunk pulls it from before the
    /// holder has listed it in the stream directory (which it does within a second or so).
    public func proxiedHolder(ofStream stream: String) -> String? {
        guard let id = RelaySessions.roomMeeting(stream) else { return nil }
        return proxied.withLock { all in all[id].flatMap { $0.holder.isEmpty ? nil : $0.holder } }
    }

    /// Whether the participants here take `stream` (`m<id>-<subject>`) of a room another
    /// node holds: its participant publishes (as the holder's roster says) and another
    /// participant's socket passes through here. The trunk bringing it is in use though no
    /// WHEP session watches it, and is not closed as idle.
    public func servesProxied(_ stream: String) -> Bool {
        guard let id = RelaySessions.roomMeeting(stream) else { return false }
        return proxied.withLock { all in all[id]?.served(meeting: id).contains(stream) ?? false }
    }

    /// Settings of `cluster.proxy_rooms`.
    struct ProxySettings: Sendable {
        /// PEM CA certificates for a holder's https URL (nil: the system's).
        var caFile: String?
    }

    /// Serves participants of rooms other nodes hold here instead of sending them there;
    /// `caFile` verifies the other nodes' https URLs (nil: the system's CAs).
    public func proxyRooms(caFile: String?) {
        proxySettings.withLock { $0 = ProxySettings(caFile: caFile) }
    }

    /// The first fields of a roster, as this node needs them.
    struct RosterSeats: Decodable {
        struct Entry: Decodable {
            let subject: String
            let publishing: Bool
            let joined_at: Int64
        }
        let participants: [Entry]
    }

    /// The `type` of a message.
    struct MessageType: Decodable { let type: String }

    /// A step of a passed-through socket, set from one of its tasks and read from another.
    final class Step: Sendable {
        let value = Atomic<Int>(0)
        /// Moves from `from` to `to`; false when another task moved it first.
        func advance(from: Int, to: Int) -> Bool {
            value.compareExchange(expected: from, desired: to, ordering: .relaxed).exchanged
        }
    }

    /// Where a participant who asked for mixed mode through this node is (`Step` values).
    enum Following {
        static let asked = 1, answered = 2, sent = 3
    }

    /// Sends a participant passed through to the holder (`moved`) and closes both sockets.
    func sendToHolder(_ outbound: WebSocketOutboundWriter, _ holder: WebSocketOutboundWriter, meeting id: Int64,
                      home: MeetingHome, subject: String) async {
        logger.info("mixed mode asked for through a node that does not hold the room: participant sent to the holder",
                    metadata: ["meeting": "\(id)", "subject": "\(subject)", "holder": "\(home.url)"])
        try? await outbound.write(.text(Self.moved(meeting: id, to: home)))
        try? await outbound.close(.normalClosure, reason: "moved")
        try? await holder.close(.normalClosure, reason: "the participant went to the node holding the room")
    }

    /// The holder's room URL for a participant with `claims`: the same subject, role and
    /// commune in a token this node signs (the nodes share the token secret), valid as long as
    /// the participant's own.
    func holderURL(_ home: MeetingHome, meeting id: Int64, claims: TokenClaims) -> String {
        let now = hub.clock() / 1000
        let passed = TokenClaims(sub: claims.sub, role: claims.role, exp: max(claims.exp, now + 60), iat: now, commune: claims.commune)
        var base = home.url
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst("https://".count) }
        else if base.hasPrefix("http://") { base = "ws://" + base.dropFirst("http://".count) }
        return base + "/api/meetings/\(id)/room?access_token=" + hub.tokens.issue(passed)
    }

    /// Passes a participant's room socket to the node holding the room, serving its downlink
    /// here; ends when either socket does, and closes the other the same way.
    func proxy(meeting id: Int64, claims: TokenClaims, to home: MeetingHome, settings: ProxySettings,
               inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let connection = nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue
        let (ownSub, ownMailbox) = hub.events.subscribe(channel: Self.channel(id, claims.sub))
        defer { hub.events.unsubscribe(channel: Self.channel(id, claims.sub), id: ownSub) }
        proxied.withLock { all in
            all[id, default: ProxiedRoom()].sockets[claims.sub] = connection
            all[id]?.holder = home.url
            // Seated as far as this node knows until the holder's roster says otherwise.
            if all[id]?.downlinkSeats[claims.sub] == nil {
                all[id]?.downlinkSeats[claims.sub] = DownlinkSeat(publishing: nil, joinedAt: hub.clock(), mixed: false)
            }
        }
        defer { Task { await self.leaveProxied(meeting: id, subject: claims.sub, connection: connection) } }
        logger.info("room socket passed to the node holding the room", metadata: [
            "meeting": "\(id)", "subject": "\(claims.sub)", "holder": "\(home.url)"])
        let url = holderURL(home, meeting: id, claims: claims)
        let (configuration, tls) = RoomClient.connectionSettings(url: url, caFile: settings.caFile)
        let close: WebSocketCloseFrame?
        let connected = Step()
        // Mixed mode asked for: the participant follows its request to the holder.
        let following = Step()
        do {
            close = try await WebSocketClient.connect(url: url, configuration: configuration, tlsConfiguration: tls, logger: logger) {
                upstream, holder, _ in
                connected.value.store(1, ordering: .relaxed)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in upstream.messages(maxSize: 1 << 20) {
                            guard case .text(let text) = message else { continue }
                            let (kind, passed) = self.fromHolder(text, meeting: id, connection: connection)
                            try await outbound.write(.text(passed))
                            switch (following.value.load(ordering: .relaxed), kind) {
                            case (Following.asked, "error"):
                                following.value.store(0, ordering: .relaxed)
                            case (Following.asked, "mode"):
                                // The holder keeps the seat mixed: the participant goes there (its
                                // seat kept for the reconnect gets the mix on its downlink), after
                                // the `pong` of a client that pinged behind its request, or 1 s.
                                following.value.store(Following.answered, ordering: .relaxed)
                                Task {
                                    try? await Task.sleep(for: .seconds(1))
                                    guard following.advance(from: Following.answered, to: Following.sent) else { return }
                                    await self.sendToHolder(outbound, holder, meeting: id, home: home, subject: claims.sub)
                                }
                            case (Following.answered, "pong"):
                                guard following.advance(from: Following.answered, to: Following.sent) else { continue }
                                await self.sendToHolder(outbound, holder, meeting: id, home: home, subject: claims.sub)
                                return
                            default:
                                continue
                            }
                        }
                    }
                    group.addTask { for await text in ownMailbox { try await outbound.write(.text(text)) } }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 262_144) {
                            guard case .text(let text) = message else {
                                try await outbound.write(.text(HubMessage.error("send JSON text messages, not binary")))
                                continue
                            }
                            if case .success(.mode(true)) = RoomRequest.parse(text),
                               self.withDownlinkRoom(id, { $0.downlinks[claims.sub] != nil }) ?? false {
                                following.value.store(Following.asked, ordering: .relaxed)
                                try await holder.write(.text(text))
                            } else if let replies = await self.handleHere(text, meeting: id, claims: claims) {
                                for reply in replies { try await outbound.write(.text(reply)) }
                            } else {
                                try await holder.write(.text(text))
                            }
                        }
                        try? await holder.close(.normalClosure, reason: "the participant closed the socket")
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch {
            guard connected.value.load(ordering: .relaxed) == 1 else {
                // Not reached from here (down, or the nodes cannot reach each other: a URL or
                // a CA missing): the participant is sent there, as without `proxy_rooms`. A
                // holder that died is not reached by the client either, which then retries
                // the nodes it knows; one of them takes the room over when the claim lapses.
                logger.warning("the node holding the room could not be reached from here; the participant is sent there (moved)",
                               metadata: ["meeting": "\(id)", "subject": "\(claims.sub)", "holder": "\(home.url)", "error": "\(error)"])
                try? await Self.sendOn(outbound, inbound, meeting: id, to: home)
                return
            }
            logger.warning("the socket to the node holding the room broke; the participant's socket is closed for it to try again",
                           metadata: ["meeting": "\(id)", "subject": "\(claims.sub)", "holder": "\(home.url)", "error": "\(error)"])
            try? await outbound.close(.goingAway, reason: "the node holding the meeting room is unreachable; try again")
            return
        }
        // The holder's close goes on to the participant as it was (1008 for a refusal is final).
        if close?.closeCode == .policyViolation {
            try? await outbound.close(.policyViolation, reason: close?.reason)
        } else {
            try? await outbound.close(.normalClosure, reason: close?.reason ?? "the room's node closed the socket")
        }
    }

    /// A message of the holder on its way to the participant, and its `type`: the roster
    /// updates the seats the downlinks here are built from; `joined` names this node too, so
    /// that a client whose socket comes back through another node sets its media up again (its
    /// downlink was served here).
    func fromHolder(_ text: String, meeting id: Int64, connection: Int) -> (type: String?, text: String) {
        guard let kind = try? JSONDecoder().decode(MessageType.self, from: Data(text.utf8)) else { return (nil, text) }
        switch kind.type {
        case "roster":
            if let roster = try? JSONDecoder().decode(RosterSeats.self, from: Data(text.utf8)) { mirror(roster, meeting: id) }
        case "joined":
            guard var joined = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
                  let node = joined["node"] as? String else { break }
            joined["node"] = node + "/" + nodeID + "." + String(connection)
            guard let data = try? JSONSerialization.data(withJSONObject: joined, options: [.sortedKeys]),
                  let rewritten = String(data: data, encoding: .utf8) else { break }
            return (kind.type, rewritten)
        default:
            break
        }
        return (kind.type, text)
    }

    /// Takes the holder's roster as room `id`'s seats here; when the seats changed, pulls the
    /// publishers' streams the participants here take over trunks and offers the downlinks again.
    func mirror(_ roster: RosterSeats, meeting id: Int64) {
        let seats = Dictionary(roster.participants.map {
            ($0.subject, DownlinkSeat(publishing: $0.publishing ? "holder" : nil, joinedAt: $0.joined_at, mixed: false))
        }, uniquingKeysWith: { a, _ in a })
        let streams = proxied.withLock { all -> [String]? in
            guard all[id] != nil, all[id]?.downlinkSeats != seats else { return nil }
            all[id]?.downlinkSeats = seats
            return all[id]?.served(meeting: id)
        }
        guard let streams else { return }
        Task {
            // Offered at once with what is here; again once the new streams arrived (one
            // offer for all of them rather than one each).
            await self.renegotiateDownlinks(id)
            guard let trunks = self.sessions.upstreamTrunks else { return }
            await withTaskGroup(of: Void.self) { group in
                for stream in streams {
                    group.addTask {
                        // Asked again while it still publishes and is watched here, for up to
                        // 15 s (the holder may not have answered its publish yet).
                        for attempt in 0..<15 {
                            if attempt > 0 { try? await Task.sleep(for: .seconds(1)) }
                            guard self.servesProxied(stream) else { return }
                            if await trunks.pull(stream, timeout: .seconds(5)) { return }
                        }
                        self.logger.warning("a publisher's stream could not be pulled from the node holding the room",
                                            metadata: ["meeting": "\(id)", "stream": "\(stream)"])
                    }
                }
            }
            await self.renegotiateDownlinks(id)
        }
    }

    /// Makes sure every publisher's stream of room `id` (but `subject`'s own) is coming over a
    /// trunk, waiting at most 5 s.
    func pullPublishers(meeting id: Int64, except subject: String) async {
        guard let trunks = sessions.upstreamTrunks else { return }
        let streams = proxied.withLock { all in (all[id]?.publishing(meeting: id) ?? [:]).filter { $0.key != subject }.values }
        await withTaskGroup(of: Void.self) { group in
            for stream in streams { group.addTask { _ = await trunks.pull(stream, timeout: .seconds(5)) } }
        }
    }

    /// A participant's request handled on this node (its downlink): the replies, or nil when
    /// the request goes to the holder.
    func handleHere(_ text: String, meeting id: Int64, claims: TokenClaims) async -> [String]? {
        guard case .success(let request) = RoomRequest.parse(text) else { return nil }
        let downlink = withDownlinkRoom(id) { $0.downlinks[claims.sub]?.session } ?? nil
        let reply: String?
        switch request {
        case .downlink:
            // The publishers' streams are pulled first (at most 5 s), so that the first offer
            // carries them: an offer following right after, while the connection's DTLS
            // handshake runs, is what aiortc 1.16 can lose a track of (docs/postgresql.md).
            await pullPublishers(meeting: id, except: claims.sub)
            reply = await media(request, meeting: id, claims: claims)
        case .answer, .downlinkLayer:
            reply = await media(request, meeting: id, claims: claims)
        case .restart(let session) where session == downlink:
            reply = await media(request, meeting: id, claims: claims)
        default:
            return nil
        }
        return reply.map { [$0] } ?? []
    }

    /// A socket passed through ended: unless a newer socket of the same subject came meanwhile,
    /// its downlink goes (a socket that comes back sets its media up again: `joined` names a new
    /// node), and the room here goes with its last participant.
    func leaveProxied(meeting id: Int64, subject: String, connection: Int) async {
        let peer = proxied.withLock { all -> String?? in
            guard var room = all[id], room.sockets[subject] == connection else { return nil }
            room.sockets[subject] = nil
            let downlink = room.downlinks.removeValue(forKey: subject)
            all[id] = room.sockets.isEmpty ? nil : room
            return .some(downlink?.peerID)
        }
        guard let peer else { return }
        logger.info("room socket passed to the holder ended", metadata: ["meeting": "\(id)", "subject": "\(subject)"])
        if let peer { await sessions.media.send(.removePeer(id: peer, reason: "left the meeting")) }
    }
}
