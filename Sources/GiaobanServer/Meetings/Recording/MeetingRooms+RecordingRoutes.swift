import Foundation
import GiaobanAuth
import GiaobanHub
import GiaobanStore
import Hummingbird
import HummingbirdWebSocket

/// Access to a meeting's recordings (docs/recording.md, "Access"):
///
/// - `GET /api/meetings/{id}/recordings`: the files of `storage.recordings_dir/<id>/`, with the
///   manifest's size, SHA-256 and times for each finished one, and `in_progress` for those
///   being written.
/// - `GET /api/meetings/{id}/recordings/{file}`: one file as `video/webm`, with one HTTP byte
///   range (RFC 9110 §14) for a player that seeks.
///
/// The chair, an admin and an observer may read every meeting's recordings; a commune only
/// those of meetings it attended (the roll call holds its subject), else 403.
extension MeetingRooms {
    func addRecordingRoutes(to router: Router<GiaobanRequestContext>) {
        router.get("/api/meetings/:id/recordings") { request, context in try await self.listRecordings(request, context) }
        router.get("/api/meetings/:id/recordings/:file") { request, context in try await self.downloadRecording(request, context) }
    }

    /// Who may ask at all; a commune is then checked against the roll call.
    static let recordingReaders: Set<Role> = [.chair, .admin, .observer, .commune]

    /// The meeting's id and the caller once it may read the meeting's recordings: 404 for no
    /// such meeting, 403 for a commune that did not attend it.
    func recordingAccess(_ request: Request, _ context: some RequestContext) async throws(PlainError) -> (Int64, TokenClaims) {
        let claims = try hub.tokens.authorize(request, roles: Self.recordingReaders)
        let id = try RequestParts.id(context, what: "a meeting")
        let meeting: StoredMeeting?
        do { meeting = try await hub.meetings.get(id: id) } catch {
            throw PlainError(.serviceUnavailable, "cannot read meeting \(id): \(error)")
        }
        guard meeting != nil else { throw PlainError(.notFound, "no meeting \(id)") }
        guard claims.role == .commune else { return (id, claims) }
        let attended: Bool
        do { attended = try await hub.meetings.attendance(meetingID: id).contains { $0.participant == claims.sub } } catch {
            throw PlainError(.serviceUnavailable, "cannot read the attendance of meeting \(id): \(error)")
        }
        guard attended else {
            throw PlainError(.forbidden, "commune '\(claims.sub)' did not attend meeting \(id); its recordings are for those who did")
        }
        return (id, claims)
    }

    func listRecordings(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (id, _) = try await recordingAccess(request, context)
        let recorder = rooms.withLock { $0[id]?.recorder }
        let files = RecordingListing.files(in: recordingDirectory(id), open: recorder?.openFiles ?? [:])
        return .json(.ok, RecordingList(meeting: id, recording: recorder != nil, files: files))
    }

    func downloadRecording(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (id, claims) = try await recordingAccess(request, context)
        let name = context.parameters.get("file") ?? ""
        guard RecordingListing.isFileName(name) else {
            throw PlainError(.badRequest, "'\(name.prefix(40))' is not a recording file name (letters, digits, - and _, then .webm)")
        }
        let path = recordingDirectory(id) + "/" + name
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw PlainError(.notFound, "meeting \(id) has no recording \(name)")
        }
        let size = Int(info.st_size)
        var headers: HTTPFields = [.contentType: "video/webm", .acceptRanges: "bytes"]
        let range: ClosedRange<Int>
        var status = HTTPResponse.Status.ok
        switch ByteRange.resolve(request.headers[.range], size: size) {
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        case .whole:
            guard size > 0 else { return Response(status: .ok, headers: headers, body: .init()) }
            range = 0...(size - 1)
        case .part(let part):
            range = part
            status = .partialContent
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound)/\(size)"
        }
        // Who took a copy of a briefing: one audit row per download, not per seek of a player
        // (only requests from the first byte).
        if range.lowerBound == 0 { await hub.audit(claims, "recording.download", target: "meeting/\(id)/recording/\(name)", detail: "\(size) bytes") }
        let body = try await FileIO().loadFile(path: path, range: range, context: context)
        return Response(status: status, headers: headers, body: body)
    }

    /// `storage.recordings_dir/<id>`.
    func recordingDirectory(_ id: Int64) -> String { recording.directory + "/\(id)" }
}

/// The answer of `GET /api/meetings/{id}/recordings`.
struct RecordingList: Encodable {
    /// The meeting.
    let meeting: Int64
    /// Whether the meeting is being recorded now.
    let recording: Bool
    /// Its files, by name.
    let files: [RecordingListing.Entry]
}
