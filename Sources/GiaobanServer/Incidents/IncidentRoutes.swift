import Foundation
public import GiaobanStore
import Hummingbird
public import Logging

/// Incident ingest and listing.
///
/// - `POST /api/incidents` (camera or admin): a JSON report (`application/json`, see
///   `IncidentJSON`) or an OASIS CAP 1.2 alert (`application/cap+xml`, `application/xml`,
///   `text/xml`). `201 {"id", "created": true}` for a new incident, `200 {"id", "created": false}`
///   for a retry of one already stored (same sender and identifier); both only after COMMIT.
/// - `GET /api/incidents?limit=&after=` (any role): oldest first, `next_after` for the next page.
/// - `GET /api/incidents/{id}` (any role): one incident.
public struct IncidentRoutes: Sendable {
    let store: IncidentStore
    let tokens: TokenAuthority
    let maxBodyBytes: Int
    let logger: Logger

    /// The largest page `GET /api/incidents` returns.
    static let maxPage = 500
    /// The page size when `limit` is not given.
    static let defaultPage = 100

    /// Creates the routes over `store`.
    public init(store: IncidentStore, tokens: TokenAuthority, maxBodyBytes: Int, logger: Logger) {
        self.store = store
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    /// Serves the incidents of `database` (SQLite or PostgreSQL, migrated at open).
    public init(database: any RecordDatabase, tokens: TokenAuthority, maxBodyBytes: Int, logger: Logger) {
        self.init(store: IncidentStore(database: database), tokens: tokens, maxBodyBytes: maxBodyBytes, logger: logger)
    }

    /// Opens (creating and migrating) the SQLite database at `sqlitePath` and serves its incidents.
    public init(sqlitePath: String, tokens: TokenAuthority, maxBodyBytes: Int, logger: Logger) throws(StoreError) {
        self.init(store: IncidentStore(database: try Database(path: sqlitePath)), tokens: tokens,
                  maxBodyBytes: maxBodyBytes, logger: logger)
    }

    /// Adds the incident routes to `router`.
    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/api/incidents") { request, _ in try await self.ingest(request) }
        router.get("/api/incidents") { request, _ in try await self.list(request) }
        router.get("/api/incidents/:id") { request, context in try await self.get(request, id: context.parameters.get("id")) }
    }

    func ingest(_ request: Request) async throws -> Response {
        let claims = try tokens.authorize(request, roles: [.camera, .admin])
        let contentType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let isJSON = contentType == "application/json"
        let isCAP = ["application/cap+xml", "application/xml", "text/xml"].contains(contentType)
        guard isJSON || isCAP else {
            return .plain(.unsupportedMediaType,
                          "send the incident as application/json or as CAP 1.2 (application/cap+xml), not '\(contentType)'")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maxBodyBytes) } catch {
            return .plain(.contentTooLarge, "the incident is larger than \(maxBodyBytes) bytes (http.max_body_bytes)")
        }
        let data = Data(body.readableBytesView)
        let record: IncidentRecord
        do throws(IncidentValidationError) {
            record = isJSON ? try IncidentJSON.parse(data, source: claims.sub) : try CAPAlert.parse(data, source: claims.sub)
        } catch {
            return .plain(.badRequest, "invalid incident: \(error.description.replacingOccurrences(of: "\n", with: " "))")
        }
        let outcome: (id: Int64, created: Bool)
        do throws(StoreError) { outcome = try await store.ingest(record) } catch {
            logger.error("incident not stored", metadata: ["source": "\(record.source)", "error": "\(error)"])
            return .plain(.serviceUnavailable, "the incident was not stored (\(error.reason.rawValue)); retry with the same identifier")
        }
        if outcome.created {
            logger.info("incident stored", metadata: [
                "id": "\(outcome.id)", "source": "\(record.source)", "identifier": "\(record.identifier)",
                "severity": "\(record.severity)", "format": "\(record.format)",
            ])
        }
        return json(outcome.created ? .created : .ok, IngestAnswer(id: outcome.id, created: outcome.created),
                    location: "/api/incidents/\(outcome.id)")
    }

    func list(_ request: Request) async throws -> Response {
        _ = try tokens.authorize(request)
        let query = request.uri.queryParameters
        var limit = Self.defaultPage
        if let raw = query["limit"] {
            guard let value = Int(String(raw)), (1...Self.maxPage).contains(value) else {
                return .plain(.badRequest, "limit: '\(raw.prefix(20))' is not an integer in 1…\(Self.maxPage)")
            }
            limit = value
        }
        var after: Int64 = 0
        if let raw = query["after"] {
            guard let value = Int64(String(raw)), value >= 0 else {
                return .plain(.badRequest, "after: '\(raw.prefix(20))' is not an incident id (0 or more)")
            }
            after = value
        }
        do throws(StoreError) {
            let page = try await store.list(limit: limit, afterID: after)
            return json(.ok, ListAnswer(incidents: page.items.map(IncidentView.init), next_after: page.nextAfter))
        } catch {
            logger.error("incident list failed", metadata: ["error": "\(error)"])
            return .plain(.serviceUnavailable, "cannot read incidents (\(error.reason.rawValue))")
        }
    }

    func get(_ request: Request, id raw: String?) async throws -> Response {
        _ = try tokens.authorize(request)
        guard let raw, let id = Int64(raw), id > 0 else {
            return .plain(.badRequest, "'\(raw?.prefix(20) ?? "")' is not an incident id")
        }
        do throws(StoreError) {
            guard let incident = try await store.get(id: id) else { return .plain(.notFound, "no incident \(id)") }
            return json(.ok, IncidentView(incident))
        } catch {
            logger.error("incident read failed", metadata: ["id": "\(id)", "error": "\(error)"])
            return .plain(.serviceUnavailable, "cannot read incident \(id) (\(error.reason.rawValue))")
        }
    }

    func json(_ status: HTTPResponse.Status, _ value: some Encodable, location: String? = nil) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The answer to an ingest.
struct IngestAnswer: Encodable {
    let id: Int64
    let created: Bool
}

/// A page of incidents.
struct ListAnswer: Encodable {
    let incidents: [IncidentView]
    let next_after: Int64?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(incidents, forKey: .incidents)
        try c.encode(next_after, forKey: .next_after) // null on the last page, not omitted
    }

    enum CodingKeys: String, CodingKey { case incidents, next_after }
}

/// One incident as the API shows it (the JSON input's shape, plus id, source and receipt time).
struct IncidentView: Encodable {
    struct Location: Encodable {
        let lat: Double
        let lon: Double
    }
    let id: Int64
    let received_at: Int64
    let source: String
    let format: String
    let sender: String?
    let identifier: String
    let type: String
    let severity: String
    let urgency: String
    let certainty: String
    let location: Location
    let time: String
    let text: String
    let road: String?
    let km: Double?

    init(_ stored: StoredIncident) {
        let r = stored.record
        id = stored.id
        received_at = stored.receivedAt
        source = r.source
        format = r.format
        sender = r.sender
        identifier = r.identifier
        type = r.type
        severity = r.severity
        urgency = r.urgency
        certainty = r.certainty
        location = Location(lat: r.latitude, lon: r.longitude)
        time = r.time
        text = r.text
        road = r.road
        km = r.km
    }
}
