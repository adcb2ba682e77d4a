import Foundation
import GiaobanStore
import Hummingbird
import GiaobanIncidents
import GiaobanAuth
import GiaobanHub

/// Briefing routes:
///
/// - `POST /api/briefings` (chair, admin): `{"title", "body", "priority", "audience", "attachments"?}`
///   where `audience` is `{"all": true}`, `{"communes": ["id", …]}` or `{"area": <GeoJSON Polygon>}`
///   or `{"near": {"lat", "lon", "radius_m"}}`; `201` after COMMIT with the recipients.
/// - `GET /api/briefings` (command center: all; commune: those sent to it), newest first.
/// - `GET /api/briefings/{id}` (a commune only its own: 403 otherwise), `…/attachments/{n}`,
///   `…/receipts` (command center), `POST …/read` and `POST …/ack` (a recipient commune).
extension Hub {
    func addBriefingRoutes(to router: Router<some RequestContext>) {
        router.post("/api/briefings") { request, _ in try await self.sendBriefing(request) }
        router.get("/api/briefings") { request, _ in try await self.listBriefings(request) }
        router.get("/api/briefings/:id") { request, context in try await self.briefing(request, context) }
        router.get("/api/briefings/:id/attachments/:attachment") { request, context in try await self.briefingAttachment(request, context) }
        router.get("/api/briefings/:id/receipts") { request, context in try await self.briefingReceipts(request, context) }
        router.post("/api/briefings/:id/read") { request, context in try await self.briefingStep(request, context, read: true) }
        router.post("/api/briefings/:id/ack") { request, context in try await self.briefingStep(request, context, read: false) }
    }

    static let priorities = ["routine", "priority", "flash"]

    struct BriefingBody: Decodable {
        struct Audience: Decodable {
            struct Near: Decodable {
                var lat: Double
                var lon: Double
                var radius_m: Double
            }
            var all: Bool?
            var communes: [String]?
            var area: AnyJSON?
            var near: Near?
        }
        struct File: Decodable {
            var name: String?
            var content_type: String?
            var data: String?
        }
        var title: String?
        var body: String?
        var priority: String?
        var audience: Audience?
        var attachments: [File]?
    }

    func sendBriefing(_ request: Request) async throws -> Response {
        let claims = try await authorizePrivileged(request, roles: [.chair, .admin], action: "briefing.send", target: "briefing")
        try limit(.briefing, subject: claims.sub)
        let b = try await RequestParts.json(BriefingBody.self, request, limit: settings.maxBodyBytes, what: "briefing")
        guard let title = b.title?.trimmingCharacters(in: .whitespacesAndNewlines), !title.isEmpty else {
            throw PlainError(.badRequest, "invalid briefing: title: 1–256 characters are required")
        }
        if let problem = UserText.problem(title, maxCharacters: 256) { throw PlainError(.badRequest, "invalid briefing: title \(problem)") }
        guard let text = b.body, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw PlainError(.badRequest, "invalid briefing: body: 1–65536 characters are required")
        }
        if let problem = UserText.problem(text, maxCharacters: 65_536) { throw PlainError(.badRequest, "invalid briefing: body \(problem)") }
        let priority = b.priority ?? "routine"
        guard Self.priorities.contains(priority) else {
            throw PlainError(.badRequest, "invalid briefing: priority: '\(priority.prefix(20))' is not one of \(Self.priorities.joined(separator: ", "))")
        }
        let (recipients, audience) = try resolveAudience(b.audience)
        var attachments: [Attachment] = []
        var total = 0
        for (i, file) in (b.attachments ?? []).enumerated() {
            guard let name = file.name, !name.isEmpty, UserText.problem(name, maxCharacters: 200) == nil, !name.contains("/") else {
                throw PlainError(.badRequest, "invalid briefing: attachments[\(i)].name: a file name of 1–200 characters without '/' is required")
            }
            guard let type = file.content_type, type.contains("/"), UserText.problem(type, maxCharacters: 100) == nil else {
                throw PlainError(.badRequest, "invalid briefing: attachments[\(i)].content_type: a media type such as application/pdf is required")
            }
            guard let data = file.data.flatMap({ Data(base64Encoded: $0) }) else {
                throw PlainError(.badRequest, "invalid briefing: attachments[\(i)].data: base64 bytes are required")
            }
            total += data.count
            guard total <= settings.maxAttachmentBytes else {
                throw PlainError(.contentTooLarge, "the attachments exceed \(settings.maxAttachmentBytes) bytes in all (hub.max_attachment_bytes)")
            }
            attachments.append(Attachment(name: name, contentType: type, data: Array(data)))
        }
        let draft = BriefingDraft(author: claims.sub, title: title, body: text, priority: priority, audience: audience,
                                  recipients: recipients, attachments: attachments)
        let now = clock()
        let id = try await stored("store the briefing") { () async throws(StoreError) in try await briefings.create(draft, now: now) }
        metrics.briefingsSent.add(1, ordering: .relaxed)
        await audit(claims, "briefing.send", target: "briefing/\(id)", detail: "priority=\(priority) recipients=\(recipients.count)")
        logger.info("briefing sent", metadata: ["id": "\(id)", "author": "\(claims.sub)", "priority": "\(priority)",
                                                "recipients": "\(recipients.count)"])
        await push(briefingID: id, to: recipients)
        await tellPeers(.briefing(id))
        return .json(.created, BriefingCreated(id: id, recipients: recipients), location: "/api/briefings/\(id)")
    }

    /// The communes an audience names, and the audience as JSON text for the record.
    func resolveAudience(_ audience: BriefingBody.Audience?) throws(PlainError) -> ([String], String) {
        guard let audience else {
            throw PlainError(.badRequest, #"invalid briefing: audience is required: {"all": true}, {"communes": [...]}, {"area": <GeoJSON>} or {"near": {"lat", "lon", "radius_m"}}"#)
        }
        let chosen = [audience.all == true, audience.communes != nil, audience.area != nil, audience.near != nil].filter { $0 }.count
        guard chosen == 1 else { throw PlainError(.badRequest, "invalid briefing: audience: give exactly one of all, communes, area, near") }
        let recipients: [String]
        let description: String
        if audience.all == true {
            recipients = areas.all
            description = #"{"all":true}"#
        } else if let list = audience.communes {
            guard !list.isEmpty else { throw PlainError(.badRequest, "invalid briefing: audience.communes is empty") }
            if let unknown = list.first(where: { !areas.contains($0) }) {
                throw PlainError(.badRequest, "invalid briefing: audience.communes: '\(unknown.prefix(64))' is not in the directory")
            }
            recipients = Array(Set(list)).sorted()
            description = HubMessage.encode(["communes": recipients])
        } else if let near = audience.near {
            guard (-90.0...90.0).contains(near.lat), (-180.0...180.0).contains(near.lon), near.radius_m >= 0, near.radius_m <= 500_000 else {
                throw PlainError(.badRequest, "invalid briefing: audience.near: lat, lon in degrees and radius_m in 0…500000 are required")
            }
            recipients = areas.communes(near: .init(lon: near.lon, lat: near.lat), radius: near.radius_m)
            description = HubMessage.encode(["near": ["lat": near.lat, "lon": near.lon, "radius_m": near.radius_m]])
        } else {
            let area: GeoArea
            do throws(GeoJSONError) { area = try GeoArea(geoJSON: audience.area?.value ?? NSNull()) } catch {
                throw PlainError(.badRequest, "invalid briefing: audience.area: \(error.message)")
            }
            recipients = areas.communes(overlapping: area)
            description = #"{"area":true}"#
        }
        guard !recipients.isEmpty else { throw PlainError(.unprocessableContent, "the audience contains no commune of the directory") }
        return (recipients, description)
    }

    /// The briefing if `claims` may see it: the command center all, a commune those sent to it.
    func visibleBriefing(_ request: Request, _ context: some RequestContext) async throws(PlainError) -> (StoredBriefing, TokenClaims) {
        let claims = try tokens.authorize(request, roles: [.chair, .admin, .observer, .commune])
        let id = try RequestParts.id(context, what: "a briefing")
        guard let briefing = try await stored("read briefing \(id)", { () async throws(StoreError) in try await briefings.get(id: id) }) else {
            throw PlainError(.notFound, "no briefing \(id)")
        }
        if claims.role == .commune {
            let addressed = try await stored("read briefing \(id)") { () async throws(StoreError) in
                try await deliveries.isRecipient(kind: .briefing, itemID: id, recipient: claims.sub)
            }
            guard addressed else { throw PlainError(.forbidden, "briefing \(id) is not addressed to commune '\(claims.sub)'") }
        }
        return (briefing, claims)
    }

    func listBriefings(_ request: Request) async throws -> Response {
        let claims = try tokens.authorize(request, roles: [.chair, .admin, .observer, .commune])
        let page = try RequestParts.page(request, cursor: "before")
        let result = try await stored("list briefings") { () async throws(StoreError) in
            try await briefings.list(recipient: claims.role == .commune ? claims.sub : nil, limit: page.limit, beforeID: page.cursor)
        }
        return .json(.ok, BriefingPage(briefings: result.items.map(BriefingView.init), next_before: Nullable(result.nextBefore)))
    }

    func briefing(_ request: Request, _ context: some RequestContext) async throws -> Response {
        .json(.ok, BriefingView(try await visibleBriefing(request, context).0))
    }

    func briefingAttachment(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (briefing, _) = try await visibleBriefing(request, context)
        let n = try RequestParts.id(context, "attachment", what: "an attachment")
        let file = try await stored("read an attachment") { () async throws(StoreError) in
            try await briefings.attachment(briefingID: briefing.id, attachmentID: n)
        }
        guard let file else { throw PlainError(.notFound, "briefing \(briefing.id) has no attachment \(n)") }
        return .bytes(file.data, contentType: file.contentType, filename: file.name)
    }

    func briefingReceipts(_ request: Request, _ context: some RequestContext) async throws -> Response {
        _ = try tokens.authorize(request, roles: [.chair, .admin, .observer])
        let id = try RequestParts.id(context, what: "a briefing")
        let rows = try await stored("read the receipts of briefing \(id)") { () async throws(StoreError) in
            try await deliveries.deliveries(kind: .briefing, itemID: id)
        }
        guard !rows.isEmpty else { throw PlainError(.notFound, "no briefing \(id)") }
        return .json(.ok, DeliveryTable(rows: rows.map(DeliveryView.init)))
    }

    func briefingStep(_ request: Request, _ context: some RequestContext, read: Bool) async throws -> Response {
        // The role first, so that no other role learns which briefings exist (404 vs 403).
        _ = try tokens.authorize(request, roles: [.commune])
        let (briefing, claims) = try await visibleBriefing(request, context)
        try await record(read ? .read : .acknowledged(by: claims.sub), kind: .briefing, itemID: briefing.id, recipient: claims.sub)
        return .plain(.ok, read ? "read" : "acknowledged")
    }

    /// 403 unless a commune holds the token: only the communes a briefing is addressed to
    /// mark it read or acknowledged (REST and WebSocket alike).
    static func requireBriefingStepRole(_ claims: TokenClaims) throws(PlainError) {
        guard claims.role == .commune else {
            throw PlainError(.forbidden, "only the communes a briefing is addressed to read and acknowledge it")
        }
    }

    /// Records a recipient's step and tells the command center (the chair's table updates
    /// live). Only a new step is pushed: a repeated `read` changes nothing and pushes nothing.
    func record(_ step: DeliveryStep, kind: DeliveryKind, itemID: Int64, recipient: String) async throws(PlainError) {
        let now = clock()
        let outcome = try await stored("record a receipt") { () async throws(StoreError) in
            try await deliveries.record(step, kind: kind, itemID: itemID, recipient: recipient, now: now)
        }
        switch outcome {
        case .notRecipient: throw PlainError(.forbidden, "\(kind.rawValue) \(itemID) is not addressed to '\(recipient)'")
        case .unchanged: return
        case .recorded: break
        }
        let (name, by): (String, String) = switch step {
        case .delivered: ("delivered", recipient)
        case .read: ("read", recipient)
        case .acknowledged(let by): ("acknowledged", by)
        }
        announce(HubMessage.Receipt(kind: kind.rawValue, id: itemID, recipient: recipient, step: name, by: by, at: now))
        await tellPeers(.receipt(kind: kind, itemID: itemID, step: name, recipient: recipient))
    }
}

/// Any JSON value, kept as `JSONSerialization` would give it (a GeoJSON area inside a Codable body).
struct AnyJSON: Decodable, @unchecked Sendable {
    let value: Any

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { value = NSNull() }
        else if let b = try? c.decode(Bool.self) { value = b }
        else if let n = try? c.decode(Double.self) { value = NSNumber(value: n) }
        else if let s = try? c.decode(String.self) { value = s }
        else if let a = try? c.decode([AnyJSON].self) { value = a.map(\.value) }
        else { value = try c.decode([String: AnyJSON].self).mapValues(\.value) }
    }
}

/// The answer to a briefing sent.
struct BriefingCreated: Encodable {
    let id: Int64
    let recipients: [String]
}

/// A page of briefings, newest first.
struct BriefingPage: Encodable {
    let briefings: [BriefingView]
    let next_before: Nullable<Int64>
}

