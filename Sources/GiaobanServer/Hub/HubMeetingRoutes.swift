import Foundation
import GiaobanStore
import Hummingbird
import GiaobanIncidents
import GiaobanRooms
public import GiaobanHub

/// Meeting routes:
///
/// - `POST /api/meetings` (chair, admin): `{"title", "scheduled_at", "duration_minutes"}`; its
///   media room is the stream `meeting-<id>`: publishing or watching it (WHIP/WHEP) records
///   attendance.
/// - `GET /api/meetings`, `GET /api/meetings/{id}` (everyone but cameras).
/// - `GET /api/meetings/{id}/attendance` (command center, JSON) and `…/attendance.csv` (the roll call).
extension Hub {
    func addMeetingRoutes(to router: Router<some RequestContext>) {
        router.post("/api/meetings") { request, _ in try await self.scheduleMeeting(request) }
        router.get("/api/meetings") { request, _ in try await self.listMeetings(request) }
        router.get("/api/meetings/:id") { request, context in try await self.meeting(request, context) }
        router.get("/api/meetings/:id/attendance") { request, context in try await self.attendance(request, context, csv: false) }
        router.get("/api/meetings/:id/attendance.csv") { request, context in try await self.attendance(request, context, csv: true) }
    }

    struct MeetingBody: Decodable {
        var title: String?
        var scheduled_at: String?
        var duration_minutes: Int64?
    }

    func scheduleMeeting(_ request: Request) async throws -> Response {
        let claims = try await authorizePrivileged(request, roles: [.chair, .admin], action: "meeting.create", target: "meeting")
        let b = try await RequestParts.json(MeetingBody.self, request, limit: 16_384, what: "meeting")
        guard let title = b.title?.trimmingCharacters(in: .whitespacesAndNewlines), !title.isEmpty else {
            throw PlainError(.badRequest, "invalid meeting: title: 1–256 characters are required")
        }
        if let problem = UserText.problem(title, maxCharacters: 256) { throw PlainError(.badRequest, "invalid meeting: title \(problem)") }
        let when: String
        do throws(IncidentValidationError) { when = try IncidentRules.time(b.scheduled_at, field: "scheduled_at") } catch {
            throw PlainError(.badRequest, "invalid meeting: \(error)")
        }
        let minutes = b.duration_minutes ?? 60
        guard (1...1_440).contains(minutes) else { throw PlainError(.badRequest, "invalid meeting: duration_minutes must be 1…1440") }
        let now = clock()
        let id = try await stored("schedule the meeting") { () async throws(StoreError) in
            try await meetings.create(title: title, scheduledAt: when, durationMinutes: minutes, createdBy: claims.sub, now: now)
        }
        logger.info("meeting scheduled", metadata: ["id": "\(id)", "by": "\(claims.sub)", "at": "\(when)"])
        await audit(claims, "meeting.create", target: "meeting/\(id)", detail: "scheduled_at=\(when)")
        let meeting = StoredMeeting(id: id, title: title, scheduledAt: when, durationMinutes: minutes, createdBy: claims.sub, createdAt: now)
        return .json(.created, MeetingView(meeting, inRoom: occupancy(id)), location: "/api/meetings/\(id)")
    }

    func listMeetings(_ request: Request) async throws -> Response {
        _ = try tokens.authorize(request, roles: Self.readers)
        let page = try RequestParts.page(request, cursor: "after")
        let result = try await stored("list meetings") { () async throws(StoreError) in
            try await meetings.list(limit: page.limit, afterID: page.cursor)
        }
        let seated = await inRoom(result.items.map(\.id))
        return .json(.ok, MeetingPage(meetings: result.items.map { MeetingView($0, inRoom: seated[$0.id] ?? 0) },
                                      next_after: Nullable(result.nextAfter)))
    }

    func meeting(_ request: Request, _ context: some RequestContext) async throws -> Response {
        _ = try tokens.authorize(request, roles: Self.readers)
        let id = try RequestParts.id(context, what: "a meeting")
        guard let meeting = try await stored("read meeting \(id)", { () async throws(StoreError) in try await meetings.get(id: id) }) else {
            throw PlainError(.notFound, "no meeting \(id)")
        }
        return .json(.ok, MeetingView(meeting, inRoom: await inRoom([id])[id] ?? 0))
    }

    /// The seats of each meeting's room: this node's rooms, and on a cluster the rooms other
    /// nodes hold (from the state they last wrote; none when the database does not answer).
    func inRoom(_ ids: [Int64]) async -> [Int64: Int] {
        var seats = Dictionary(uniqueKeysWithValues: ids.map { ($0, occupancy($0)) })
        guard database.dialect == .postgresql else { return seats }
        let elsewhere = ids.filter { seats[$0] == 0 }
        guard let held = try? await MeetingHomes(database: database).heldSnapshots(meetings: elsewhere, now: clock()) else { return seats }
        for (id, text) in held {
            if let snapshot = try? RoomSnapshot(json: text) { seats[id] = snapshot.seats.count }
        }
        return seats
    }

    func attendance(_ request: Request, _ context: some RequestContext, csv: Bool) async throws -> Response {
        _ = try tokens.authorize(request, roles: [.chair, .admin, .observer])
        let id = try RequestParts.id(context, what: "a meeting")
        guard try await stored("read meeting \(id)", { () async throws(StoreError) in try await meetings.get(id: id) }) != nil else {
            throw PlainError(.notFound, "no meeting \(id)")
        }
        let rows = try await stored("read the attendance of meeting \(id)") { () async throws(StoreError) in
            try await meetings.attendance(meetingID: id)
        }
        guard csv else { return .json(.ok, AttendanceList(attendance: rows.map(AttendanceView.init))) }
        return .bytes(Array(RollCall.csv(rows).utf8), contentType: "text/csv; charset=utf-8", filename: "meeting-\(id)-attendance.csv")
    }

    /// Records a join or leave of the media room `meeting-<id>` (called by the WHIP/WHEP front).
    public func recordPresence(stream: String, subject: String, role: String, joined: Bool) async {
        guard stream.hasPrefix("meeting-"), let id = Int64(stream.dropFirst("meeting-".count)), id > 0 else { return }
        let now = clock()
        do throws(StoreError) {
            let recorded = joined
                ? try await meetings.join(meetingID: id, participant: subject, role: role, now: now)
                : try await meetings.leave(meetingID: id, participant: subject, now: now)
            if recorded { logger.info(joined ? "joined meeting" : "left meeting", metadata: ["meeting": "\(id)", "subject": "\(subject)"]) }
        } catch {
            logger.error("attendance not recorded", metadata: ["meeting": "\(id)", "subject": "\(subject)", "error": "\(error)"])
        }
    }
}

/// The roll call as CSV (RFC 4180): one row per presence, times in UTC (RFC 3339).
enum RollCall {
    static func csv(_ rows: [AttendanceRecord]) -> String {
        var out = "participant,role,joined_at,left_at,minutes\r\n"
        for r in rows {
            let minutes = r.leftAt.map { String(format: "%.1f", Double($0 - r.joinedAt) / 60_000) } ?? ""
            out += [r.participant, r.role, iso(r.joinedAt), r.leftAt.map(iso) ?? "", minutes].map(field).joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func iso(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// Quotes a field holding a comma, quote or line break, doubling its quotes; a leading
    /// =, +, -, @, tab or carriage return is prefixed with ' so that a spreadsheet never runs
    /// it as a formula (OWASP "CSV injection").
    static func field(_ value: String) -> String {
        var v = value
        // Scalars, not Characters: "\r\n" is one Character and would slip past a Character test.
        if let first = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { v = "'" + v }
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A meeting as the API shows it.
struct MeetingView: Encodable {
    let id: Int64
    let title: String
    let scheduled_at: String
    let duration_minutes: Int64
    let created_by: String
    let created_at: Int64
    let room: String
    /// Participants seated in the meeting's room now (docs/protocol.md): 0 when nobody is in it.
    let in_room: Int

    init(_ m: StoredMeeting, inRoom: Int) {
        in_room = inRoom
        id = m.id
        title = m.title
        scheduled_at = m.scheduledAt
        duration_minutes = m.durationMinutes
        created_by = m.createdBy
        created_at = m.createdAt
        room = "meeting-\(m.id)"
    }
}

/// A page of meetings.
struct MeetingPage: Encodable {
    let meetings: [MeetingView]
    let next_after: Nullable<Int64>
}

/// Attendance as JSON.
struct AttendanceList: Encodable {
    let attendance: [AttendanceView]
}

/// One presence.
struct AttendanceView: Encodable {
    let participant: String
    let role: String
    let joined_at: Int64
    let left_at: Nullable<Int64>

    init(_ r: AttendanceRecord) {
        participant = r.participant
        role = r.role
        joined_at = r.joinedAt
        left_at = Nullable(r.leftAt)
    }
}
