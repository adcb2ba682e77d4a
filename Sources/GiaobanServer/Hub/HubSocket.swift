import Foundation
import GiaobanStore
import Hummingbird
import HummingbirdWebSocket
import GiaobanAuth
import GiaobanHub

/// `GET /api/events`: the WebSocket on which a commune or the command center receives its
/// incidents, briefings, receipts and escalations live, and confirms them (docs/hub.md).
///
/// At connect, everything routed to the client's channel that it has not confirmed is sent
/// again (store and forward), after a `hello`; then live pushes follow. The client answers
/// `{"type": "delivered" | "read" | "ack", "kind": "incident" | "briefing", "id": n}`; a
/// malformed message gets `{"type": "error", "message": …}` and the connection stays open.
/// `delivered` is written in batches (`Hub.confirm`); `read` and `ack` before the next message.
extension Hub {
    func addEventSocket(to router: Router<GiaobanRequestContext>) {
        addSocket("/api/events", to: router, roles: Self.socketRoles, what: "GET /api/events") { claims, inbound, outbound, _ in
            guard let channel = claims.channel else { return }
            try await self.serve(claims: claims, channel: channel, inbound: inbound, outbound: outbound)
        }
    }

    /// A WebSocket route for holders of `roles`. A refused handshake can only be an empty 400
    /// with the WebSocket library, and browsers do not show handshake statuses anyway: the
    /// handshake is accepted and a bad token closes it at once with 1008 and the reason. A
    /// plain GET gets 401/403 or 426.
    func addSocket(_ path: RouterPath, to router: Router<GiaobanRequestContext>, roles: Set<Role>, what: String,
                   serve: @escaping @Sendable (TokenClaims, WebSocketInboundStream, WebSocketOutboundWriter,
                                               WebSocketRouterContext<GiaobanRequestContext>) async throws -> Void) {
        router.ws(path) { request, _ in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                _ = try self.tokens.authorize(request, roles: roles, allowQueryToken: true)
                throw PlainError(.upgradeRequired, "\(what) is a WebSocket: send Upgrade: websocket")
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            try await RequestOrigin.$remote.withValue(RequestOrigin.text(context.requestContext.remoteAddress)) {
                try await self.serveSocket(inbound, outbound, context, roles: roles, what: what, serve: serve)
            }
        }
    }

    /// One accepted WebSocket of `addSocket`: the token, the per-subject cap, the revocation watch.
    func serveSocket(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter,
                     _ context: WebSocketRouterContext<GiaobanRequestContext>, roles: Set<Role>, what: String,
                     serve: @escaping @Sendable (TokenClaims, WebSocketInboundStream, WebSocketOutboundWriter,
                                                 WebSocketRouterContext<GiaobanRequestContext>) async throws -> Void) async throws {
        let claims: TokenClaims
        do throws(PlainError) { claims = try self.tokens.authorize(context.request, roles: roles, allowQueryToken: true) } catch {
            try await Self.refuse(outbound, inbound, reason: String(error.message.prefix(120)))
            return
        }
        guard self.openSocket(subject: claims.sub) else {
            self.metrics.socketsRefused.add(1, ordering: .relaxed)
            self.logger.warning("WebSocket refused: the subject holds the most it may", metadata: [
                "subject": "\(claims.sub)", "what": "\(what)", "security.max_sockets_per_subject": "\(self.settings.maxSocketsPerSubject)"])
            try await Self.refuse(outbound, inbound, reason: Self.socketLimitReason(self.settings.maxSocketsPerSubject))
            return
        }
        defer { self.closeSocket(subject: claims.sub) }
        guard self.tokens.revocations != nil || claims.keyID != nil else {
            try await serve(claims, inbound, outbound, context)
            return
        }
        // A disabled account's socket, or one opened with a revoked API key, is closed within
        // a second of the revocation being read (docs/accounts.md); whichever ends first ends the other.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serve(claims, inbound, outbound, context) }
            group.addTask {
                while !self.tokens.isRevoked(claims) { try await Task.sleep(for: .seconds(1)) }
                let reason = self.tokens.revocations?.isRevoked(claims.sub) == true ? Self.disabledReason : Self.keyRevokedReason
                self.logger.notice("WebSocket closed: \(reason)", metadata: ["subject": "\(claims.sub)", "what": "\(what)"])
                try await outbound.close(.policyViolation, reason: reason)
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The close reason of a socket whose account was disabled.
    static let disabledReason = "the account is disabled"
    /// The close reason of a socket opened with an API key that was then revoked.
    static let keyRevokedReason = "the API key was revoked"

    /// The close reason of a socket beyond the per-subject cap (under the 123 bytes a close frame holds).
    static func socketLimitReason(_ limit: Int) -> String {
        "at most \(limit) WebSockets per subject may be open at once (security.max_sockets_per_subject)"
    }

    /// Counts a new socket of `subject`; false (and nothing counted) when it holds the cap already.
    func openSocket(subject: String) -> Bool {
        socketsBySubject.withLock { open in
            guard open[subject, default: 0] < settings.maxSocketsPerSubject else { return false }
            open[subject, default: 0] += 1
            return true
        }
    }

    /// Counts a closed socket of `subject`.
    func closeSocket(subject: String) {
        socketsBySubject.withLock { open in
            let left = open[subject, default: 1] - 1
            open[subject] = left > 0 ? left : nil
        }
    }

    static let socketRoles: Set<Role> = [.chair, .admin, .observer, .commune]

    /// Closes a refused socket with 1008 and `reason`, then waits (bounded by the library's
    /// close timeout) for the client's close frame.
    static func refuse(_ outbound: WebSocketOutboundWriter, _ inbound: WebSocketInboundStream, reason: String) async throws {
        // A close frame sent right after the 101 answer was now and then never seen by the
        // SwiftNIO-based WebSocket client (about 1 connection in 5; probably bytes read together
        // with the 101 response): a short pause made every run pass (docs/hub.md).
        try await Task.sleep(for: .milliseconds(50))
        try await outbound.close(.policyViolation, reason: reason)
        for try await _ in inbound.messages(maxSize: 4_096) {}
    }

    func serve(claims: TokenClaims, channel: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        // Subscribe before reading what is pending, so nothing committed in between is missed
        // (a duplicate is possible and harmless: clients keep items by id).
        let (subscription, mailbox) = events.subscribe(channel: channel)
        defer { events.unsubscribe(channel: channel, id: subscription) }
        let pending: [DeliveryRecord]
        if channel == commandCenterRecipient {
            // The command channel is shared: each subject confirms for itself (`confirm`).
            pending = (try? await deliveries.pending(commandSubject: claims.sub, now: clock())) ?? []
        } else {
            pending = (try? await deliveries.pending(recipient: channel)) ?? []
        }
        logger.info("event socket open", metadata: ["subject": "\(claims.sub)", "channel": "\(channel)", "pending": "\(pending.count)"])
        try await outbound.write(.text(HubMessage.hello(subject: claims.sub, role: claims.role.rawValue, channel: channel,
                                                         pending: pending.count)))
        for row in pending {
            if let text = await pushText(for: row) { try await outbound.write(.text(text)) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await text in mailbox { try await outbound.write(.text(text)) }
                guard self.events.didOverflow(subscription) else { return }
                // Nothing queued was dropped for newer messages; the socket goes instead, and
                // the client's reconnect replays everything unconfirmed from the database.
                self.metrics.slowSocketsClosed.add(1, ordering: .relaxed)
                self.logger.warning("event socket closed: the client fell behind and its mailbox overflowed; it replays at reconnect",
                                    metadata: ["subject": "\(claims.sub)", "channel": "\(channel)"])
                try await outbound.close(.unknown(1013), reason: Self.overflowReason)
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 65_536) {
                    guard case .text(let text) = message else {
                        try await outbound.write(.text(HubMessage.error("send JSON text messages, not binary")))
                        continue
                    }
                    if let reply = await self.handle(text, claims: claims, channel: channel) {
                        try await outbound.write(.text(reply))
                    }
                }
            }
            // The reader ends when the client closes; then stop the writer too. The writer
            // ends first only when the mailbox overflowed: then wait (bounded by the library's
            // close timeout) for the client's close.
            try await group.next()
            if events.didOverflow(subscription) { try await group.next() }
            group.cancelAll()
        }
        logger.info("event socket closed", metadata: ["subject": "\(claims.sub)", "channel": "\(channel)"])
    }

    /// The close reason of a socket whose mailbox overflowed.
    static let overflowReason = "too far behind: reconnect to receive the unconfirmed items again"

    /// The push message for a pending delivery, or nil if the item is gone.
    func pushText(for row: DeliveryRecord) async -> String? {
        switch row.kind {
        case .incident:
            guard let incident = try? await incidents.get(id: row.itemID) else { return nil }
            return HubMessage.encode(HubMessage.IncidentPush(incident: IncidentView(incident, cameras: cameraStates)))
        case .briefing:
            guard let briefing = try? await briefings.get(id: row.itemID) else { return nil }
            return HubMessage.encode(HubMessage.BriefingPush(briefing: BriefingView(briefing)))
        }
    }

    /// Handles one client message; returns the reply to send, if any.
    func handle(_ text: String, claims: TokenClaims, channel: String) async -> String? {
        struct ClientMessage: Decodable {
            var type: String?
            var kind: String?
            var id: Int64?
        }
        guard let message = try? JSONDecoder().decode(ClientMessage.self, from: Data(text.utf8)), let type = message.type else {
            return HubMessage.error(#"expected a JSON object with a "type""#)
        }
        if type == "ping" { return #"{"type":"pong"}"# }
        guard ["delivered", "read", "ack"].contains(type) else {
            return HubMessage.error("unknown message type '\(type.prefix(40))' (delivered, read, ack, ping)")
        }
        guard let kindText = message.kind, let kind = DeliveryKind(rawValue: kindText), let id = message.id, id > 0 else {
            return HubMessage.error(#"\#(type) needs "kind" (incident or briefing) and a positive "id""#)
        }
        if type == "delivered" {
            confirm(DeliveryKey(kind: kind, itemID: id, recipient: channel), claims: claims)
            return nil
        }
        do throws(PlainError) {
            // The same role rules as POST /api/incidents/{id}/ack and /api/briefings/{id}/read|ack.
            if kind == .incident { try claims.require(Self.incidentStepRoles) } else { try Self.requireBriefingStepRole(claims) }
            if type == "ack", kind == .incident {
                _ = try await acknowledge(incidentID: id, recipient: channel, actor: claims.sub)
                await audit(claims, "incident.ack", target: "incident/\(id)", detail: "recipient=\(channel)")
            } else {
                let step: DeliveryStep = type == "read" ? .read : .acknowledged(by: claims.sub)
                try await record(step, kind: kind, itemID: id, recipient: channel)
            }
            return nil
        } catch {
            if type == "ack", kind == .incident, error.status == .forbidden {
                _ = await refusing(claims, "incident.ack", target: "incident/\(id)", error)
            }
            return HubMessage.error(error.message)
        }
    }
}
