import Foundation
import GiaobanStore
import Hummingbird
import GiaobanHub

/// The audit trail's route (docs/audit.md):
///
/// - `GET /api/audit` (admin, observer): newest first; filters `subject`, `action`, `since`,
///   `until` (milliseconds since 1970, or RFC 3339 with an offset), `before` (an id: the next
///   page), `limit` (default 100, at most 1000); `?format=csv` or `Accept: text/csv` gives
///   CSV with a header row.
extension Hub {
    func addAuditRoutes(to router: Router<some RequestContext>) {
        router.get("/api/audit") { request, _ in try await self.auditTrail(request) }
    }

    func auditTrail(_ request: Request) async throws -> Response {
        _ = try tokens.authorize(request, roles: [.admin, .observer])
        let filter = try Self.auditFilter(request.uri.queryParameters)
        let rows = try await stored("read the audit trail") { () async throws(StoreError) in try await auditLog.list(filter) }
        let csv = request.uri.queryParameters["format"] == "csv" || (request.headers[.accept] ?? "").contains("text/csv")
        guard csv else {
            let next = rows.count == filter.limit ? rows.last?.id : nil
            return .json(.ok, AuditPage(entries: rows.map(AuditView.init), next_before: Nullable(next)))
        }
        return .bytes(Array(AuditCSV.text(rows).utf8), contentType: "text/csv; charset=utf-8", filename: "audit.csv")
    }

    /// The filter the query asks for; 400 naming the parameter that is wrong.
    static func auditFilter(_ query: Parameters) throws(PlainError) -> AuditFilter {
        func text(_ name: String) throws(PlainError) -> String? {
            guard let value = query[Substring(name)].map(String.init) else { return nil }
            guard !value.isEmpty, value.count <= 256 else { throw PlainError(.badRequest, "\(name): 1–256 characters") }
            return value
        }
        func time(_ name: String) throws(PlainError) -> Int64? {
            guard let value = query[Substring(name)].map(String.init) else { return nil }
            if let milliseconds = Int64(value), milliseconds >= 0 { return milliseconds }
            let formatter = ISO8601DateFormatter()
            for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
                formatter.formatOptions = options
                if let date = formatter.date(from: value) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
            }
            throw PlainError(.badRequest, "\(name): milliseconds since 1970 or an RFC 3339 time such as 2026-12-06T07:30:00+07:00")
        }
        var limit = 100
        if let raw = query["limit"] {
            guard let n = Int(raw), (1...1_000).contains(n) else { throw PlainError(.badRequest, "limit: a number 1…1000") }
            limit = n
        }
        var before: Int64?
        if let raw = query["before"] {
            guard let n = Int64(raw), n > 0 else { throw PlainError(.badRequest, "before: a positive id") }
            before = n
        }
        return AuditFilter(subject: try text("subject"), action: try text("action"), since: try time("since"), until: try time("until"),
                           beforeID: before, limit: limit)
    }
}

/// The audit trail as CSV (RFC 4180), with the fields escaped as the roll call's are.
enum AuditCSV {
    static func text(_ rows: [AuditRecord]) -> String {
        var out = "id,at,time,subject,role,remote,action,target,detail,result,prev_hash,hash\r\n"
        for r in rows {
            let e = r.entry
            out += [String(r.id), String(e.at), RollCall.iso(e.at), e.subject, e.role, e.remote ?? "", e.action, e.target, e.detail,
                    e.result, r.prevHash, r.hash].map(RollCall.field).joined(separator: ",") + "\r\n"
        }
        return out
    }
}

/// A page of the audit trail, newest first; `next_before` asks for the next page.
struct AuditPage: Encodable {
    let entries: [AuditView]
    let next_before: Nullable<Int64>
}

/// One audit row as the API shows it.
struct AuditView: Encodable {
    let id: Int64
    let at: Int64
    let subject: String
    let role: String
    let remote: Nullable<String>
    let action: String
    let target: String
    let detail: String
    let result: String
    let prev_hash: String
    let hash: String

    init(_ r: AuditRecord) {
        id = r.id
        at = r.entry.at
        subject = r.entry.subject
        role = r.entry.role
        remote = Nullable(r.entry.remote)
        action = r.entry.action
        target = r.entry.target
        detail = r.entry.detail
        result = r.entry.result
        prev_hash = r.prevHash
        hash = r.hash
    }
}
