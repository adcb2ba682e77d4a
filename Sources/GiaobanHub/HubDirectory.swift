public import Foundation
public import GiaobanStore
import GiaobanIncidents

/// The directory file (`hub.directory_file`, JSON): the province's communes with their areas
/// and its cameras. Loaded into the database the first time it is empty.
///
/// ```json
/// {"province": "…",
///  "communes": [{"id": "xa-phuoc-thai", "name": "Xã Phước Thái",
///                "area": {"type": "Polygon", "coordinates": [[[106.9, 10.8], …]]}}],
///  "cameras": [{"id": "cam-ql51-km12", "name": "…", "location": {"lat": 10.8, "lon": 106.9},
///               "road": "QL51", "km": 12.0}]}
/// ```
public struct DirectoryFile: Sendable {
    /// The communes.
    public var communes: [CommuneRecord]
    /// The cameras.
    public var cameras: [CameraRecord]

    /// Parses and validates a directory file's text; `source` names it in errors.
    public init(parsing data: Data, source: String) throws(DirectoryError) {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DirectoryError("\(source): not a JSON object")
        }
        var communes: [CommuneRecord] = [], cameras: [CameraRecord] = []
        for (i, item) in ((root["communes"] as? [Any]) ?? []).enumerated() {
            communes.append(try Self.commune(item, where: "\(source): communes[\(i)]"))
        }
        for (i, item) in ((root["cameras"] as? [Any]) ?? []).enumerated() {
            cameras.append(try Self.camera(item, where: "\(source): cameras[\(i)]"))
        }
        for ids in [communes.map(\.id), cameras.map(\.id)] where Set(ids).count != ids.count {
            throw DirectoryError("\(source): ids must be unique")
        }
        self.communes = communes
        self.cameras = cameras
    }

    /// Validates one commune object (`{"id", "name", "area"}`).
    static package func commune(_ value: Any, where location: String) throws(DirectoryError) -> CommuneRecord {
        guard let object = value as? [String: Any] else { throw DirectoryError("\(location): not an object") }
        let id = try identifier(object["id"], where: location)
        guard let name = object["name"] as? String, !name.isEmpty, UserText.problem(name, maxCharacters: 256) == nil else {
            throw DirectoryError("\(location).name: a name of 1–256 characters (at most 1024 bytes of UTF-8, no NUL) is required")
        }
        guard let area = object["area"] else { throw DirectoryError("\(location).area: a GeoJSON Polygon or MultiPolygon is required") }
        do { _ = try GeoArea(geoJSON: area) } catch { throw DirectoryError("\(location).area: \(error.message)") }
        guard let areaData = try? JSONSerialization.data(withJSONObject: area, options: [.sortedKeys]) else {
            throw DirectoryError("\(location).area: cannot be serialized")
        }
        return CommuneRecord(id: id, name: name, area: String(decoding: areaData, as: UTF8.self))
    }

    /// Validates one camera object (`{"id", "name", "location": {"lat", "lon"}, "road"?, "km"?, "rtsp_url"?}`).
    static package func camera(_ value: Any, where location: String) throws(DirectoryError) -> CameraRecord {
        guard let object = value as? [String: Any] else { throw DirectoryError("\(location): not an object") }
        let id = try identifier(object["id"], where: location)
        guard let name = object["name"] as? String, !name.isEmpty, UserText.problem(name, maxCharacters: 256) == nil else {
            throw DirectoryError("\(location).name: a name of 1–256 characters (at most 1024 bytes of UTF-8, no NUL) is required")
        }
        guard let position = object["location"] as? [String: Any],
              let lat = (position["lat"] as? NSNumber)?.doubleValue, let lon = (position["lon"] as? NSNumber)?.doubleValue,
              (-90.0...90.0).contains(lat), (-180.0...180.0).contains(lon) else {
            throw DirectoryError("\(location).location: {\"lat\": <degrees>, \"lon\": <degrees>} is required")
        }
        let road = object["road"] as? String
        if let road, let problem = UserText.problem(road, maxCharacters: 256) { throw DirectoryError("\(location).road \(problem)") }
        let km = (object["km"] as? NSNumber)?.doubleValue
        if let km, !(km.isFinite && km >= 0) { throw DirectoryError("\(location).km: must be 0 or more") }
        let url = try rtspURL(object["rtsp_url"], where: location)
        return CameraRecord(id: id, name: name, latitude: lat, longitude: lon, road: road, km: km, rtspURL: url)
    }

    /// A camera's `rtsp_url`: absent or null, or `rtsp://host[:port]/path` of at most 1024
    /// characters without credentials (they belong in `cameras.secrets_file`, never in the
    /// directory, which every commune may read).
    static package func rtspURL(_ value: Any?, where location: String) throws(DirectoryError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let url = value as? String, url.lowercased().hasPrefix("rtsp://"), url.count <= 1024,
              !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
            throw DirectoryError("\(location).rtsp_url: an rtsp://host[:port]/path URL of at most 1024 characters, without spaces")
        }
        let authority = url.dropFirst("rtsp://".count).prefix { $0 != "/" }
        guard !authority.isEmpty else { throw DirectoryError("\(location).rtsp_url: the URL names no host") }
        guard !authority.contains("@") else {
            throw DirectoryError("\(location).rtsp_url: put the camera's user name and password in cameras.secrets_file, not in the URL")
        }
        return url
    }

    static package func identifier(_ value: Any?, where location: String) throws(DirectoryError) -> String {
        guard let id = value as? String, (1...64).contains(id.count),
              id.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }) else {
            throw DirectoryError("\(location).id: 1–64 characters of a–z, 0–9, '-' and '_' are required")
        }
        return id
    }
}

/// Why the directory file or an edit was refused.
public struct DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, with where.
    public let message: String
    package init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The communes' areas in memory, for routing: which communes an incident at a point
/// concerns, and which an area-addressed briefing reaches. Rebuilt when the directory changes.
public final class CommuneAreas: Sendable {
    package struct Entry: Sendable {
        let id: String
        let area: GeoArea
    }
    private let entries: Mutex<[Entry]>

    /// An index of `communes` (an unparsable stored area is left out and reported in `skipped`).
    public init(_ communes: [CommuneRecord]) {
        entries = Mutex(Self.parse(communes).entries)
    }

    /// Replaces the index.
    public func replace(with communes: [CommuneRecord]) -> [String] {
        let parsed = Self.parse(communes)
        entries.withLock { $0 = parsed.entries }
        return parsed.skipped
    }

    static package func parse(_ communes: [CommuneRecord]) -> (entries: [Entry], skipped: [String]) {
        var entries: [Entry] = [], skipped: [String] = []
        for commune in communes {
            if let area = try? GeoArea(geoJSON: commune.area) { entries.append(Entry(id: commune.id, area: area)) } else { skipped.append(commune.id) }
        }
        return (entries, skipped)
    }

    /// The communes whose area contains `point` or lies within `radius` metres of it, by id.
    public func communes(near point: GeoArea.Point, radius: Double) -> [String] {
        entries.withLock { all in all.filter { $0.area.distance(to: point) <= radius }.map(\.id) }.sorted()
    }

    /// The communes whose area overlaps `area` (a vertex of either inside the other), by id.
    public func communes(overlapping area: GeoArea) -> [String] {
        entries.withLock { all in
            all.filter { entry in
                entry.area.polygons.contains { $0[0].contains { area.contains($0) } }
                    || area.polygons.contains { $0[0].contains { entry.area.contains($0) } }
            }.map(\.id)
        }.sorted()
    }

    /// Whether `id` is a known commune.
    public func contains(_ id: String) -> Bool { entries.withLock { $0.contains { $0.id == id } } }

    /// Every commune id.
    public var all: [String] { entries.withLock { $0.map(\.id) }.sorted() }
}

import Synchronization
