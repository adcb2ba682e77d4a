import Foundation
import GiaobanStore
import Hummingbird
import GiaobanAuth
import GiaobanHub

/// Directory routes: everyone but cameras reads; admin edits.
///
/// - `GET /api/communes`, `GET /api/communes/{id}`, `PUT /api/communes/{id}` (`{"name", "area"}`),
///   `DELETE /api/communes/{id}`; the same for `/api/cameras` (`{"name", "location", "road", "km", "rtsp_url"}`;
///   a camera with a stream also shows its WHEP `stream` and its `state` on this node).
extension Hub {
    func addDirectoryRoutes(to router: Router<some RequestContext>) {
        router.get("/api/communes") { request, _ in try await self.listDirectory(request, .communes) }
        router.get("/api/communes/:id") { request, context in try await self.directoryEntry(request, context, .communes) }
        router.put("/api/communes/:id") { request, context in try await self.putDirectoryEntry(request, context, .communes) }
        router.delete("/api/communes/:id") { request, context in try await self.deleteDirectoryEntry(request, context, .communes) }
        router.get("/api/cameras") { request, _ in try await self.listDirectory(request, .cameras) }
        router.get("/api/cameras/:id") { request, context in try await self.directoryEntry(request, context, .cameras) }
        router.put("/api/cameras/:id") { request, context in try await self.putDirectoryEntry(request, context, .cameras) }
        router.delete("/api/cameras/:id") { request, context in try await self.deleteDirectoryEntry(request, context, .cameras) }
    }

    static let readers: Set<Role> = [.chair, .admin, .observer, .commune]

    func directoryJSON(_ table: DirectoryTable, id: String? = nil) async throws(PlainError) -> [Any] {
        switch table {
        case .communes:
            let all = try await stored("read the communes") { () async throws(StoreError) in try await directory.communes() }
            return all.filter { id == nil || $0.id == id }.map { c -> Any in
                ["id": c.id, "name": c.name,
                 "area": (try? JSONSerialization.jsonObject(with: Data(c.area.utf8))) ?? NSNull()] as [String: Any]
            }
        case .cameras:
            let all = try await stored("read the cameras") { () async throws(StoreError) in try await directory.cameras() }
            return all.filter { id == nil || $0.id == id }.map { c -> Any in
                let live = c.rtspURL.map { _ in cameraStates.entry(c.id) ?? CameraStates.Entry(state: "connecting") }
                return ["id": c.id, "name": c.name, "location": ["lat": c.latitude, "lon": c.longitude],
                        "road": c.road ?? NSNull(), "km": c.km ?? NSNull(), "rtsp_url": c.rtspURL ?? NSNull(),
                        "stream": c.rtspURL == nil ? NSNull() : "/whep/camera/\(c.id)",
                        "state": live?.state ?? NSNull(), "state_reason": live.map { $0.reason.isEmpty ? NSNull() : $0.reason as Any } ?? NSNull()]
                    as [String: Any]
            }
        }
    }

    static func rawJSON(_ object: Any) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func listDirectory(_ request: Request, _ table: DirectoryTable) async throws -> Response {
        _ = try tokens.authorize(request, roles: Self.readers)
        return Self.rawJSON([table.rawValue: try await directoryJSON(table)])
    }

    func directoryEntry(_ request: Request, _ context: some RequestContext, _ table: DirectoryTable) async throws -> Response {
        _ = try tokens.authorize(request, roles: Self.readers)
        let id = context.parameters.get("id") ?? ""
        guard let entry = try await directoryJSON(table, id: id).first else {
            throw PlainError(.notFound, "no \(table == .communes ? "commune" : "camera") '\(id.prefix(64))'")
        }
        return Self.rawJSON(entry)
    }

    func putDirectoryEntry(_ request: Request, _ context: some RequestContext, _ table: DirectoryTable) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        let claims = try await authorizePrivileged(request, roles: [.admin], action: "directory.change", target: "\(table.rawValue)/\(id)")
        guard RequestParts.mediaType(request) == "application/json" else {
            throw PlainError(.unsupportedMediaType, "send the entry as application/json")
        }
        let data = try await RequestParts.body(request, limit: settings.maxBodyBytes, what: "directory entry")
        guard var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PlainError(.badRequest, "invalid directory entry: the body is not a JSON object")
        }
        if let given = object["id"] as? String, given != id {
            throw PlainError(.badRequest, "invalid directory entry: id '\(given.prefix(64))' differs from the path's '\(id.prefix(64))'")
        }
        object["id"] = id
        let now = clock()
        let created: Bool
        switch table {
        case .communes:
            let commune: CommuneRecord
            do throws(DirectoryError) { commune = try DirectoryFile.commune(object, where: "commune") } catch {
                throw PlainError(.badRequest, "invalid directory entry: \(error.message)")
            }
            created = try await stored("store commune \(id)") { () async throws(StoreError) in try await directory.put(commune, now: now) }
            try await stored("reload the commune areas") { () async throws(StoreError) in try await reloadAreas() }
        case .cameras:
            let camera: CameraRecord
            do throws(DirectoryError) { camera = try DirectoryFile.camera(object, where: "camera") } catch {
                throw PlainError(.badRequest, "invalid directory entry: \(error.message)")
            }
            created = try await stored("store camera \(id)") { () async throws(StoreError) in try await directory.put(camera, now: now) }
        }
        logger.notice("directory edited", metadata: ["table": "\(table.rawValue)", "id": "\(id)", "by": "\(claims.sub)", "created": "\(created)"])
        await audit(claims, "directory.change", target: "\(table.rawValue)/\(id)", detail: created ? "created" : "replaced")
        var response = Self.rawJSON(try await directoryJSON(table, id: id).first ?? [:])
        response.status = created ? .created : .ok
        return response
    }

    func deleteDirectoryEntry(_ request: Request, _ context: some RequestContext, _ table: DirectoryTable) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        let claims = try await authorizePrivileged(request, roles: [.admin], action: "directory.change", target: "\(table.rawValue)/\(id)")
        let deleted = try await stored("delete \(id)") { () async throws(StoreError) in try await directory.delete(table, id: id) }
        guard deleted else { throw PlainError(.notFound, "no \(table == .communes ? "commune" : "camera") '\(id.prefix(64))'") }
        if table == .communes { try await stored("reload the commune areas") { () async throws(StoreError) in try await reloadAreas() } }
        logger.notice("directory entry deleted", metadata: ["table": "\(table.rawValue)", "id": "\(id)", "by": "\(claims.sub)"])
        await audit(claims, "directory.change", target: "\(table.rawValue)/\(id)", detail: "deleted")
        return .plain(.ok, "deleted")
    }
}
