import Foundation
public import GiaobanEngine
import GiaobanWire
import HTTPTypes
public import Hummingbird
public import Logging
import Synchronization
public import GiaobanAuth

/// WHIP (RFC 9725) and WHEP: publish and watch a stream with one HTTP exchange each.
///
/// `POST /whip/{stream}` and `POST /whep/{stream}` take an SDP offer and answer `201 Created`
/// with the SDP answer and a `Location` for the session; `DELETE` on that location ends it.
/// Trickle ICE (`PATCH`) is not needed: the relay is ICE-lite and puts its candidate in the answer.
public final class RelaySessions: Sendable {
    /// One WHIP or WHEP session.
    struct Session: Sendable {
        let kind: String
        let stream: String
        let peerID: String
        let subject: String
        let role: String
        /// The claims that opened it (to end it when they are revoked).
        let claims: TokenClaims
    }

    /// A session began (`joined`) or ended on a stream: who, with which role.
    public typealias PresenceHandler = @Sendable (_ stream: String, _ subject: String, _ role: String, _ joined: Bool) -> Void

    let media: MediaServer
    let tokens: TokenAuthority
    let maxBodyBytes: Int
    let logger: Logger
    private let sessions = Mutex<[String: Session]>([:])
    private let presence = Mutex<PresenceHandler?>(nil)

    /// The WHIP streams published here now, meeting participants' included (not a camera's, not
    /// a mix): what another node of a cluster may pull from this one.
    public var publishedStreams: [String] {
        Array(Set(sessions.withLock { $0.values.filter { $0.kind == "whip" }.map(\.stream) }.filter(RelayTrunks.pullable)))
    }

    /// Calls `handler` whenever a session begins or ends (attendance of meeting rooms).
    public func onPresence(_ handler: @escaping PresenceHandler) { presence.withLock { $0 = handler } }

    func announce(_ session: Session, joined: Bool) {
        presence.withLock { $0 }?(session.stream, session.subject, session.role, joined)
    }

    /// Decides whether `claims`' holder may open a `kind` session on `stream` (meeting rooms
    /// install one): nil admits, an error refuses with its status and reason.
    typealias Gate = @Sendable (_ kind: String, _ stream: String, _ claims: TokenClaims) -> PlainError?

    /// Media sessions (WHIP and WHEP together) one token subject may hold at once.
    let maxSessionsPerSubject: Int
    private let gate = Mutex<Gate?>(nil)

    /// Installs the admission rule for streams that belong to someone else (meeting rooms).
    func setGate(_ rule: @escaping Gate) { gate.withLock { $0 = rule } }

    /// The parent relay's trunks (`[cascade]`): a watcher of a stream nobody publishes here
    /// waits for it to come from the parent.
    private let upstream = Mutex<RelayTrunks?>(nil)

    /// The parent relay's trunks, when `[cascade]` names a parent.
    public var upstreamTrunks: RelayTrunks? { upstream.withLock { $0 } }

    /// Serves streams nobody publishes here from `trunks`' parent.
    public func setUpstream(_ trunks: RelayTrunks) { upstream.withLock { $0 = trunks } }

    /// Whether some WHEP watcher here watches `stream` now.
    public func isWatched(_ stream: String) -> Bool {
        sessions.withLock { all in all.values.contains { $0.kind == "whep" && $0.stream == stream } }
    }

    /// Creates the WHIP/WHEP front of `media`; a subject may hold `maxSessionsPerSubject`
    /// sessions at once (`security.max_media_sessions_per_subject`).
    public init(media: MediaServer, tokens: TokenAuthority, maxBodyBytes: Int, maxSessionsPerSubject: Int = 32, logger: Logger) {
        self.media = media
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.maxSessionsPerSubject = maxSessionsPerSubject
        self.logger = logger
        media.onEvent { [weak self] event in
            if case .removed(let peerID, _) = event { self?.forget(peerID: peerID) }
        }
    }

    /// Drops the session of a peer the media plane removed (timeout, failure, replacement).
    func forget(peerID: String) {
        let removed = sessions.withLock { all -> Session? in
            guard let id = all.first(where: { $0.value.peerID == peerID })?.key else { return nil }
            return all.removeValue(forKey: id)
        }
        if let removed { announce(removed, joined: false) }
    }

    /// Adds the WHIP and WHEP routes to `router`.
    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/whip/:stream") { request, context in try await self.negotiate(request, context, kind: "whip") }
        router.post("/whep/:stream") { request, context in try await self.negotiate(request, context, kind: "whep") }
        // A directory camera's live stream (docs/cameras.md): watched, never published.
        router.post("/whep/camera/:id") { request, context -> Response in
            let claims = try self.tokens.authorize(request, roles: RelaySessions.watchingRoles)
            let id = context.parameters.get("id") ?? ""
            guard Self.validStream(id) else { return .plain(.badRequest, "a camera id is 1–64 characters of A–Z, a–z, 0–9, '-' and '_'") }
            return try await self.negotiate(request, kind: "whep", stream: CameraRelay.stream(id), claims: claims, location: "/whep/camera/\(id)")
        }
        router.delete("/whep/camera/:id/:session") { request, context -> Response in
            let claims = try self.tokens.authorize(request)
            let id = context.parameters.get("id") ?? "", session = context.parameters.get("session") ?? ""
            guard try await self.close(kind: "whep", stream: CameraRelay.stream(id), id: session, requester: claims) else {
                return .plain(.notFound, "no WHEP session \(session.prefix(64)) on camera '\(id.prefix(64))'")
            }
            return .plain(.ok, "session ended")
        }
        for kind in ["whip", "whep"] {
            router.delete("/\(kind)/:stream/:session") { request, context in try await self.end(request, context, kind: kind) }
            router.patch("/\(kind)/:stream/:session") { _, _ in
                var response = Response.plain(.methodNotAllowed, "trickle ICE is not needed: the answer carries the relay's candidate")
                response.headers[.allow] = "DELETE"
                return response
            }
        }
    }

    /// The most simulcast layers a publisher sends (`?layer=` ranks 0 to 2).
    static let maxLayers = 3
    /// The WHEP answer's header with each video layer's bit rate, lowest first.
    static let layersHeader = HTTPField.Name("X-Giaoban-Layers")!

    /// Whether `name` may name a stream: 1–64 letters, digits, `-` and `_`, and not `camera`
    /// (its path, `/whep/camera/<id>`, is a camera's).
    static func validStream(_ name: String) -> Bool {
        name != "camera" && (1...64).contains(name.count) && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
    }

    func negotiate(_ request: Request, _ context: some RequestContext, kind: String) async throws -> Response {
        let publishing = kind == "whip"
        let claims = try tokens.authorize(request, roles: publishing ? [.chair, .commune, .admin] : RelaySessions.watchingRoles)
        let stream = context.parameters.get("stream") ?? ""
        guard Self.validStream(stream) else {
            return .plain(.badRequest, "stream names are 1–64 characters of A–Z, a–z, 0–9, '-' and '_'")
        }
        if let meeting = Self.roomMeeting(stream), !(kind == "whep" && claims.relay == true) {
            // A participant's stream in a meeting room: published by that participant only, and
            // watched only by those seated in the room (who are in its roster and roll call) —
            // or by another node of the cluster serving participants seated there through it
            // (a token only the nodes sign, `TokenClaims.relay`; docs/postgresql.md).
            return .plain(.forbidden, "stream '\(stream)' belongs to meeting \(meeting)'s room: publish and watch it "
                          + "through the room's WebSocket, GET /api/meetings/\(meeting)/room (docs/protocol.md)")
        }
        return try await negotiate(request, kind: kind, stream: stream, claims: claims, location: "/\(kind)/\(stream)")
    }

    /// The rest of a WHIP/WHEP request once the stream is known: the offer, the session, the
    /// answer with its `Location` under `location`.
    func negotiate(_ request: Request, kind: String, stream: String, claims: TokenClaims, location: String) async throws -> Response {
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/sdp" else {
            return .plain(.unsupportedMediaType, "the offer must be sent as Content-Type: application/sdp")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maxBodyBytes) } catch {
            return .plain(.contentTooLarge, "the offer is larger than \(maxBodyBytes) bytes")
        }
        let offer: SessionDescription
        do {
            offer = try body.withUnsafeReadableBytes { bytes throws(WireError) in try SessionDescription(parsing: bytes) }
        } catch {
            return .plain(.badRequest, "malformed SDP offer: \(error)")
        }
        // `?layer=<rank>` (WHEP): exactly that simulcast layer, 0 the lowest (a child relay's trunk).
        var layer: Int?
        if kind == "whep", let value = request.uri.queryParameters["layer"] {
            guard let rank = Int(String(value)), (0..<Self.maxLayers).contains(rank) else {
                return .plain(.badRequest, "layer must be a simulcast layer rank from 0 (the lowest) to \(Self.maxLayers - 1)")
            }
            layer = rank
        }
        let sessionID: String, answer: SessionDescription
        do throws(PlainError) {
            (sessionID, answer) = try await open(kind: kind, stream: stream, offer: offer, claims: claims, layer: layer)
        } catch {
            return .plain(error.status, error.message)
        }
        // Hummingbird's CORS middleware sends Expose-Headers only on preflight answers, but the
        // Fetch standard reads it from the actual response: without it a page on another
        // origin cannot see Location.
        var headers: HTTPFields = [.contentType: "application/sdp", .location: "\(location)/\(sessionID)",
                                   .accessControlExposeHeaders: "Location"]
        // A WHEP answer says what each video layer of the stream carries (bit/s, lowest first):
        // a child relay pulls a layer over its own trunk only when a watcher there can take it.
        if kind == "whep", let bitrates = await media.ask(.rankedLayerBitrates(stream: stream)) {
            headers[Self.layersHeader] = bitrates.map(String.init).joined(separator: ",")
        }
        return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.serialize())))
    }

    /// Negotiates a publishing ("whip") or watching ("whep") session of `claims`' holder on
    /// `stream` and adds its peer to the media plane; returns the session id and the answer.
    func open(kind: String, stream: String, offer: SessionDescription,
              claims: TokenClaims, layer: Int? = nil) async throws(PlainError) -> (String, SessionDescription) {
        let publishing = kind == "whip"
        if let refusal = gate.withLock({ $0 })?(kind, stream, claims) { throw refusal }
        var published: Negotiation.PublishedTracks?
        if !publishing {
            published = await media.ask(.publishedTracks(stream: stream))
            if published == nil, let trunks = upstream.withLock({ $0 }), await trunks.pull(stream) {
                published = await media.ask(.publishedTracks(stream: stream))
            }
            guard published != nil else { throw PlainError(.notFound, "nobody is publishing stream '\(stream)'") }
            if let layer, let layers = await media.ask(.rankedLayerBitrates(stream: stream)), layer >= layers.count {
                throw PlainError(.notFound, "stream '\(stream)' has \(layers.count) video layer\(layers.count == 1 ? "" : "s"): no layer \(layer)")
            }
        }
        let sessionID = SecureRandomID.make()
        let local = media.localTransport
        let answer: SessionDescription
        var setup: PeerSetup
        do {
            (answer, setup) = try Negotiation.answer(offer: offer, role: publishing ? .publisher : .subscriber, stream: stream,
                                                     peerID: "\(kind)-\(sessionID)", local: local, published: published)
        } catch {
            throw PlainError(.badRequest, "cannot answer the offer: \(error.message)")
        }
        setup.layerRank = layer
        let session = Session(kind: kind, stream: stream, peerID: setup.id, subject: claims.sub, role: claims.role.rawValue, claims: claims)
        try reserve(sessionID, session)
        if let failure = await media.send(.addPeer(setup)) {
            _ = sessions.withLock { $0.removeValue(forKey: sessionID) }
            throw PlainError(.internalServerError, "cannot create the DTLS session: \(failure)")
        }
        announce(session, joined: true)
        logger.info("\(kind.uppercased()) session created", metadata: [
            "stream": "\(stream)", "session": "\(sessionID)", "subject": "\(claims.sub)", "role": "\(claims.role.rawValue)",
            "audio": "\(setup.audio?.codec ?? "-")", "video": "\(setup.video?.codec ?? "-")",
        ])
        return (sessionID, answer)
    }

    /// Books session `id` before its peer exists, so that two requests at once cannot both pass
    /// the checks: a subject over its session limit gets 429; a publisher on a stream that
    /// another subject publishes gets 409 (a stream belongs to whoever publishes it; its own
    /// subject may replace it, e.g. after a reconnect, and the relay then drops the old peer).
    func reserve(_ id: String, _ session: Session) throws(PlainError) {
        let limit = maxSessionsPerSubject
        let refusal = sessions.withLock { all -> PlainError? in
            let held = all.values.reduce(0) { $0 + ($1.subject == session.subject ? 1 : 0) }
            // Another node of the cluster (the nodes' own claim) pulls one session per stream
            // and layer its participants watch: as many as the meeting has publishers.
            if held >= limit && session.claims.relay != true {
                return PlainError(.tooManyRequests, "'\(session.subject.prefix(64))' already holds \(held) media sessions "
                                  + "(security.max_media_sessions_per_subject = \(limit)): end one with DELETE first")
            }
            if session.kind == "whip", let other = all.values.first(where: { $0.kind == "whip" && $0.stream == session.stream }),
               other.subject != session.subject {
                return PlainError(.conflict, "stream '\(session.stream)' is published by another subject; "
                                  + "only that subject may replace its publisher")
            }
            all[id] = session
            return nil
        }
        if let refusal {
            logger.notice("\(session.kind.uppercased()) session refused", metadata: [
                "stream": "\(session.stream)", "subject": "\(session.subject)", "reason": "\(refusal.message)"])
            throw refusal
        }
    }

    /// The meeting whose room owns `stream` (`m<id>-<participant>`), if it is such a stream.
    public static func roomMeeting(_ stream: String) -> Int64? {
        guard stream.first == "m", let dash = stream.firstIndex(of: "-") else { return nil }
        let digits = stream[stream.index(after: stream.startIndex)..<dash]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let id = Int64(digits), id > 0 else { return nil }
        return id
    }

    /// Ends every session whose claims are revoked now (a disabled account, a revoked API key);
    /// the relay drops their peers.
    func endRevoked() async {
        let revoked = sessions.withLock { s in s.filter { tokens.isRevoked($0.value.claims) } }
        for (id, session) in revoked {
            guard (try? await close(kind: session.kind, stream: session.stream, id: id)) == true else { continue }
            logger.notice("\(session.kind.uppercased()) session ended: its credentials were revoked",
                          metadata: ["stream": "\(session.stream)", "subject": "\(session.subject)"])
        }
    }

    /// Who may watch (WHEP) and get ICE servers: everyone but a camera, which only reports
    /// incidents (its token, out in the field, is the easiest to steal).
    static let watchingRoles: Set<Role> = [.chair, .commune, .observer, .admin]

    /// The media peer of session `id` when it is a `kind` session held by `subject`.
    func peerID(session id: String, kind: String, subject: String) -> String? {
        sessions.withLock { s in s[id].flatMap { $0.kind == kind && $0.subject == subject ? $0.peerID : nil } }
    }

    /// Ends session `id` of `kind` on `stream`; false when there is none. With `requester`, only
    /// the session's own subject or an admin may end it (403 otherwise).
    func close(kind: String, stream: String, id: String, requester: TokenClaims? = nil) async throws(PlainError) -> Bool {
        let found = sessions.withLock { s -> Result<Session?, PlainError> in
            guard let found = s[id], found.kind == kind, found.stream == stream else { return .success(nil) }
            if let requester, requester.role != .admin, requester.sub != found.subject {
                return .failure(PlainError(.forbidden, "this \(kind.uppercased()) session belongs to another subject: "
                                           + "only its owner or an admin may end it"))
            }
            s.removeValue(forKey: id)
            return .success(found)
        }
        let session: Session?
        switch found {
        case .success(let value): session = value
        case .failure(let error): throw error
        }
        guard let session else { return false }
        announce(session, joined: false)
        await media.send(.removePeer(id: session.peerID, reason: "ended"))
        logger.info("\(kind.uppercased()) session ended", metadata: ["stream": "\(stream)", "session": "\(id)"])
        return true
    }

    func end(_ request: Request, _ context: some RequestContext, kind: String) async throws -> Response {
        let claims = try tokens.authorize(request)
        let stream = context.parameters.get("stream") ?? ""
        let id = context.parameters.get("session") ?? ""
        guard try await close(kind: kind, stream: stream, id: id, requester: claims) else {
            return .plain(.notFound, "no \(kind.uppercased()) session \(id) on stream '\(stream)'")
        }
        return .plain(.ok, "session ended")
    }
}

/// Random identifiers for session URLs: 128 bits, hex.
enum SecureRandomID {
    static func make() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(rng.next(), radix: 16).leftPadded(16) }.joined()
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
