import Foundation
import GiaobanStore
import Hummingbird
import GiaobanIncidents
import GiaobanAuth
import GiaobanHub

/// Incident routes (docs/openapi.yaml has every field):
///
/// - `POST /api/incidents` (camera, admin): JSON or CAP 1.2; `201` new / `200` retry, both
///   after COMMIT of the incident, its snapshot and its routing to communes.
/// - `GET /api/incidents` (command center: all; commune: those routed to it), `GET /api/incidents/{id}`,
///   `…/snapshot`, `…/deliveries` (command center), `…/events`.
/// - `POST /api/incidents/{id}/ack` (a recipient commune, or the command center for its own row),
///   `POST /api/incidents/{id}/state` (command center or a recipient commune).
extension Hub {
    func addIncidentRoutes(to router: Router<some RequestContext>) {
        router.post("/api/incidents") { request, _ in try await self.ingest(request) }
        router.get("/api/incidents") { request, _ in try await self.listIncidents(request) }
        router.get("/api/incidents/:id") { request, context in try await self.incident(request, context) }
        router.get("/api/incidents/:id/snapshot") { request, context in try await self.snapshot(request, context) }
        router.get("/api/incidents/:id/deliveries") { request, context in try await self.incidentDeliveries(request, context) }
        router.get("/api/incidents/:id/events") { request, context in try await self.incidentEvents(request, context) }
        router.post("/api/incidents/:id/ack") { request, context in try await self.acknowledgeIncident(request, context) }
        router.post("/api/incidents/:id/state") { request, context in try await self.changeState(request, context) }
    }

    func ingest(_ request: Request) async throws -> Response {
        let claims = try tokens.authorize(request, roles: [.camera, .admin])
        try limit(.incident, subject: claims.sub)
        do {
            return try await ingest(request, claims: claims)
        } catch {
            metrics.incidentsRejected.add(1, ordering: .relaxed)
            throw error
        }
    }

    func ingest(_ request: Request, claims: TokenClaims) async throws(PlainError) -> Response {
        let contentType = RequestParts.mediaType(request)
        let isJSON = contentType == "application/json"
        let isCAP = ["application/cap+xml", "application/xml", "text/xml"].contains(contentType)
        guard isJSON || isCAP else {
            throw PlainError(.unsupportedMediaType,
                             "send the incident as application/json or as CAP 1.2 (application/cap+xml), not '\(contentType)'")
        }
        let data = try await RequestParts.body(request, limit: settings.maxBodyBytes, what: "incident")
        let report: IncidentReport
        do throws(IncidentValidationError) {
            report = isJSON ? try IncidentJSON.parseReport(data, source: claims.sub) : try CAPAlert.parseReport(data, source: claims.sub)
        } catch {
            throw PlainError(.badRequest, "invalid incident: \(error.description.replacingOccurrences(of: "\n", with: " "))")
        }
        if let snapshot = report.snapshot, snapshot.count > settings.maxSnapshotBytes {
            throw PlainError(.contentTooLarge, "the snapshot is \(snapshot.count) bytes; at most \(settings.maxSnapshotBytes) (hub.max_snapshot_bytes)")
        }
        let record = report.record
        let point = GeoArea.Point(lon: record.longitude, lat: record.latitude)
        let misplaced = try await checkCamera(claims, at: point)
        let recipients = (areas.communes(near: point, radius: settings.routingRadiusMetres) + [commandCenterRecipient]).sorted()
        let outcome: (id: Int64, created: Bool)
        do throws(StoreError) {
            outcome = try await incidents.ingest(record, recipients: recipients, snapshot: report.snapshot, now: clock())
        } catch {
            logger.error("incident not stored", metadata: ["source": "\(record.source)", "error": "\(error)"])
            throw PlainError(.serviceUnavailable, "the incident was not stored (\(error.reason.rawValue)); retry with the same identifier")
        }
        if outcome.created {
            metrics.incidentsStored.add(1, ordering: .relaxed)
            logger.info("incident stored", metadata: [
                "id": "\(outcome.id)", "source": "\(record.source)", "identifier": "\(record.identifier)",
                "severity": "\(record.severity)", "format": "\(record.format)", "recipients": "\(recipients.joined(separator: ","))",
            ])
            if let misplaced { await flag(incidentID: outcome.id, source: record.source, detail: misplaced) }
            // Committed: the camera's answer need not wait for the pushes.
            Task { await push(incidentID: outcome.id, to: recipients) }
            await tellPeers(.incident(outcome.id))
        }
        return .json(outcome.created ? .created : .ok, IngestAnswer(id: outcome.id, created: outcome.created, recipients: recipients),
                     location: "/api/incidents/\(outcome.id)")
    }

    /// A camera token must name a camera of the directory (403 otherwise). Returns why the
    /// report is flagged when its location is farther than `Settings.cameraToleranceMetres`
    /// from the camera's directory position (the incident is stored all the same: a report is
    /// never lost to a stale directory entry). Admin reports are not checked.
    func checkCamera(_ claims: TokenClaims, at point: GeoArea.Point) async throws(PlainError) -> String? {
        guard claims.role == .camera else { return nil }
        let camera = try await stored("look up camera '\(claims.sub.prefix(64))'") { () async throws(StoreError) in
            try await directory.camera(id: claims.sub)
        }
        guard let camera else {
            logger.warning("incident refused: the camera token's subject is not a camera of the directory", metadata: ["subject": "\(claims.sub)"])
            throw PlainError(.forbidden, "camera '\(claims.sub.prefix(64))' is not in the directory: an admin adds it (PUT /api/cameras/{id}) before it reports")
        }
        let home = GeoArea.Point(lon: camera.longitude, lat: camera.latitude)
        let metres = GeoArea.segmentDistance(home, point, point)
        guard metres > settings.cameraToleranceMetres else { return nil }
        let km = { (m: Double) in String(format: "%.1f", m / 1000) }
        return "reported \(km(metres)) km from camera \(camera.id)'s directory position (tolerance \(km(settings.cameraToleranceMetres)) km)"
    }

    /// Records a location flag in the incident's history, the log and the metrics.
    func flag(incidentID id: Int64, source: String, detail: String) async {
        metrics.locationsFlagged.add(1, ordering: .relaxed)
        logger.warning("incident flagged: the camera reported a location far from its directory position",
                       metadata: ["id": "\(id)", "source": "\(source)", "detail": "\(detail)"])
        do throws(StoreError) { try await incidents.note(id: id, actor: "giaoban", action: "location_flagged", detail: detail, now: clock()) } catch {
            logger.error("the location flag was not recorded in the incident's history", metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    /// The incident, if `claims` may see it: the command center sees all, a commune those
    /// routed to it, a camera none (it only reports).
    func visibleIncident(_ request: Request, _ context: some RequestContext) async throws(PlainError) -> (StoredIncident, TokenClaims) {
        let claims = try tokens.authorize(request, roles: [.chair, .admin, .observer, .commune])
        let id = try RequestParts.id(context, what: "an incident")
        guard let incident = try await stored("read incident \(id)", { () async throws(StoreError) in try await incidents.get(id: id) }) else {
            throw PlainError(.notFound, "no incident \(id)")
        }
        if claims.role == .commune {
            let routed = try await stored("read incident \(id)") { () async throws(StoreError) in
                try await deliveries.isRecipient(kind: .incident, itemID: id, recipient: claims.sub)
            }
            guard routed else { throw PlainError(.forbidden, "incident \(id) was not routed to commune '\(claims.sub)'") }
        }
        return (incident, claims)
    }

    func listIncidents(_ request: Request) async throws -> Response {
        let claims = try tokens.authorize(request, roles: [.chair, .admin, .observer, .commune])
        let page = try RequestParts.page(request, cursor: "after")
        let result = try await stored("list incidents") { () async throws(StoreError) in
            claims.role == .commune
                ? try await incidents.list(recipient: claims.sub, limit: page.limit, afterID: page.cursor)
                : try await incidents.list(limit: page.limit, afterID: page.cursor)
        }
        return .json(.ok, IncidentPage(incidents: result.items.map { IncidentView($0, cameras: cameraStates) }, next_after: Nullable(result.nextAfter)))
    }

    func incident(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (incident, _) = try await visibleIncident(request, context)
        return .json(.ok, IncidentView(incident, cameras: cameraStates))
    }

    func snapshot(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (incident, _) = try await visibleIncident(request, context)
        let jpeg = try await stored("read the snapshot of incident \(incident.id)") { () async throws(StoreError) in
            try await incidents.snapshot(id: incident.id)
        }
        guard let jpeg else { throw PlainError(.notFound, "incident \(incident.id) came without a snapshot") }
        return .bytes(jpeg, contentType: "image/jpeg")
    }

    func incidentDeliveries(_ request: Request, _ context: some RequestContext) async throws -> Response {
        _ = try tokens.authorize(request, roles: [.chair, .admin, .observer])
        let id = try RequestParts.id(context, what: "an incident")
        let rows = try await stored("read the deliveries of incident \(id)") { () async throws(StoreError) in
            try await deliveries.deliveries(kind: .incident, itemID: id)
        }
        guard !rows.isEmpty else { throw PlainError(.notFound, "no incident \(id)") }
        return .json(.ok, DeliveryTable(rows: rows.map(DeliveryView.init)))
    }

    func incidentEvents(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (incident, _) = try await visibleIncident(request, context)
        let events = try await stored("read the history of incident \(incident.id)") { () async throws(StoreError) in
            try await incidents.events(id: incident.id)
        }
        return .json(.ok, EventList(events: events))
    }

    func acknowledgeIncident(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let target = "incident/\(context.parameters.get("id") ?? "")"
        let claims = try await authorizePrivileged(request, roles: Self.incidentStepRoles, action: "incident.ack", target: target)
        let id = try RequestParts.id(context, what: "an incident")
        let recipient = claims.channel ?? claims.sub
        let response: Response
        do throws(PlainError) { response = try await acknowledge(incidentID: id, recipient: recipient, actor: claims.sub) } catch {
            guard error.status == .forbidden else { throw error }
            throw await refusing(claims, "incident.ack", target: target, error)
        }
        await audit(claims, "incident.ack", target: target, detail: "recipient=\(recipient)")
        return response
    }


    /// A recipient's acknowledgement, from REST or WebSocket; the command center hears of it.
    func acknowledge(incidentID id: Int64, recipient: String, actor: String) async throws(PlainError) -> Response {
        let now = clock()
        let update = try await stored("record the acknowledgement of incident \(id)") { () async throws(StoreError) in
            try await incidents.acknowledge(id: id, recipient: recipient, actor: actor, now: now)
        }
        switch update {
        case .notFound: throw PlainError(.notFound, "no incident \(id)")
        case .notRecipient: throw PlainError(.forbidden, "incident \(id) was not routed to '\(recipient)'")
        case .backwards: throw PlainError(.conflict, "incident \(id) cannot be acknowledged now")
        case .unchanged(let state):
            return .json(.ok, StateAnswer(id: id, state: state.rawValue, changed: false))
        case .recorded(let state):
            announce(HubMessage.Receipt(kind: "incident", id: id, recipient: recipient, step: "acknowledged", by: actor, at: now))
            await tellPeers(.receipt(kind: .incident, itemID: id, step: "acknowledged", recipient: recipient))
            return .json(.ok, StateAnswer(id: id, state: state.rawValue, changed: false))
        case .changed(_, let to):
            announce(HubMessage.Receipt(kind: "incident", id: id, recipient: recipient, step: "acknowledged", by: actor, at: now))
            announce(HubMessage.StateChange(id: id, from: IncidentState.new.rawValue, to: to.rawValue, actor: actor, at: now))
            await tellPeers(.receipt(kind: .incident, itemID: id, step: "acknowledged", recipient: recipient))
            await tellPeers(.state(incidentID: id, from: IncidentState.new.rawValue, to: to.rawValue))
            return .json(.ok, StateAnswer(id: id, state: to.rawValue, changed: true))
        }
    }

    struct StateBody: Decodable {
        var state: String?
        var note: String?
    }

    func changeState(_ request: Request, _ context: some RequestContext) async throws -> Response {
        // The role first (an observer reads incidents; a chair, an admin or a commune it was
        // routed to changes their state), so that no other role learns which incidents exist.
        _ = try await authorizePrivileged(request, roles: [.chair, .admin, .commune], action: "incident.state",
                                          target: "incident/\((context.parameters.get("id") ?? "").prefix(20))")
        let (incident, claims) = try await visibleIncident(request, context)
        let target = "incident/\(incident.id)"
        let body = try await RequestParts.json(StateBody.self, request, limit: 16_384, what: "state change")
        let allowed = IncidentState.allCases.dropFirst().map(\.rawValue)
        guard let raw = body.state, let state = IncidentState(rawValue: raw), state != .new else {
            throw PlainError(.badRequest, "state: one of \(allowed.joined(separator: ", ")) is required")
        }
        if let note = body.note, let problem = UserText.problem(note, maxCharacters: 4_096) { throw PlainError(.badRequest, "note \(problem)") }
        let now = clock()
        let update = try await stored("change the state of incident \(incident.id)") { () async throws(StoreError) in
            try await incidents.transition(id: incident.id, to: state, actor: claims.sub, note: body.note, now: now)
        }
        switch update {
        case .changed(let from, let to):
            logger.info("incident state changed", metadata: ["id": "\(incident.id)", "from": "\(from.rawValue)", "to": "\(to.rawValue)", "by": "\(claims.sub)"])
            announce(HubMessage.StateChange(id: incident.id, from: from.rawValue, to: to.rawValue, actor: claims.sub, at: now))
            await tellPeers(.state(incidentID: incident.id, from: from.rawValue, to: to.rawValue))
            await audit(claims, "incident.state", target: target, detail: "\(from.rawValue)->\(to.rawValue)")
            return .json(.ok, StateAnswer(id: incident.id, state: to.rawValue, changed: true))
        case .unchanged(let current), .recorded(let current):
            return .json(.ok, StateAnswer(id: incident.id, state: current.rawValue, changed: false))
        case .backwards(let from, let to):
            throw PlainError(.conflict, "incident \(incident.id) is \(from.rawValue); it cannot go back to \(to.rawValue) (new → acknowledged → dispatched → resolved)")
        case .notFound: throw PlainError(.notFound, "no incident \(incident.id)")
        case .notRecipient:
            throw await refusing(claims, "incident.state", target: target,
                                 PlainError(.forbidden, "incident \(incident.id) was not routed to '\(claims.sub)'"))
        }
    }

}

/// The answer to an ingest.
struct IngestAnswer: Encodable {
    let id: Int64
    let created: Bool
    let recipients: [String]
}

/// The answer to an acknowledgement or state change.
struct StateAnswer: Encodable {
    let id: Int64
    let state: String
    let changed: Bool
}

/// A page of incidents.
struct IncidentPage: Encodable {
    let incidents: [IncidentView]
    let next_after: Nullable<Int64>
}

/// An incident's history.
struct EventList: Encodable {
    let events: [IncidentEvent]
}

/// Per-recipient rows of an incident or briefing.
struct DeliveryTable: Encodable {
    let rows: [DeliveryView]
}

/// One recipient's row as the API shows it.
struct DeliveryView: Encodable {
    let recipient: String
    let routed_at: Int64
    let delivered_at: Nullable<Int64>
    let read_at: Nullable<Int64>
    let acknowledged_at: Nullable<Int64>
    let acknowledged_by: Nullable<String>
    let escalated_at: Nullable<Int64>

    init(_ r: DeliveryRecord) {
        recipient = r.recipient
        routed_at = r.createdAt
        delivered_at = Nullable(r.deliveredAt)
        read_at = Nullable(r.readAt)
        acknowledged_at = Nullable(r.acknowledgedAt)
        acknowledged_by = Nullable(r.acknowledgedBy)
        escalated_at = Nullable(r.escalatedAt)
    }
}

