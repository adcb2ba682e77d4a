/// A commune police station: its id (the subject of its tokens), name and area, a GeoJSON
/// Polygon or MultiPolygon kept as the text it was given.
public struct CommuneRecord: Sendable, Equatable, Codable {
    /// The commune id, e.g. "xa-phuoc-thai".
    public var id: String
    /// Its name, e.g. "Xã Phước Thái".
    public var name: String
    /// Its area: a GeoJSON geometry (RFC 7946) as text.
    public var area: String

    /// Creates a record.
    public init(id: String, name: String, area: String) {
        self.id = id
        self.name = name
        self.area = area
    }
}

/// A traffic camera: id (the subject of its tokens), name, position, road and kilometre post.
public struct CameraRecord: Sendable, Equatable, Codable {
    /// The camera id, e.g. "cam-ql1a-km1836".
    public var id: String
    /// Its name.
    public var name: String
    /// WGS 84 latitude.
    public var latitude: Double
    /// WGS 84 longitude.
    public var longitude: Double
    /// The road, e.g. "QL1A".
    public var road: String?
    /// The kilometre post.
    public var km: Double?
    /// Its live stream, `rtsp://host[:port]/path`, without credentials; nil: it only reports.
    public var rtspURL: String?

    /// Creates a record.
    public init(id: String, name: String, latitude: Double, longitude: Double, road: String? = nil, km: Double? = nil,
                rtspURL: String? = nil) {
        self.id = id
        self.name = name
        self.latitude = latitude
        self.longitude = longitude
        self.road = road
        self.km = km
        self.rtspURL = rtspURL
    }
}

/// The province's directory of communes and cameras. Seeded from the directory file the first
/// time the database is empty; afterwards the database is the truth and the API edits it.
public final class DirectoryStore: Sendable {
    /// The database holding the directory.
    public let database: any RecordDatabase

    /// A store over an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Every commune, by id.
    public func communes() async throws(StoreError) -> [CommuneRecord] {
        try await database.read { session throws(StoreError) in
            try session.rows("SELECT id, name, area FROM communes ORDER BY id", []).map { row throws(StoreError) in
                var c = RowReader(row: row)
                return CommuneRecord(id: try c.text(), name: try c.text(), area: try c.text())
            }
        }
    }

    /// Every camera, by id.
    public func cameras() async throws(StoreError) -> [CameraRecord] {
        try await database.read { session throws(StoreError) in
            try session.rows("SELECT id, name, latitude, longitude, road, km, rtsp_url FROM cameras ORDER BY id", []).map { row throws(StoreError) in
                try Self.camera(row)
            }
        }
    }

    /// The camera `id`, or nil when the directory has none by that id.
    public func camera(id: String) async throws(StoreError) -> CameraRecord? {
        try await database.read { session throws(StoreError) in
            try session.rows("SELECT id, name, latitude, longitude, road, km, rtsp_url FROM cameras WHERE id = ?", [.text(id)]).first.map { row throws(StoreError) in
                try Self.camera(row)
            }
        }
    }

    /// Stores the communes and cameras in one transaction when the directory is empty;
    /// false (and nothing written) when it already holds entries.
    public func seedIfEmpty(communes: [CommuneRecord], cameras: [CameraRecord], now: Int64) async throws(StoreError) -> Bool {
        try await database.write { session throws(StoreError) in
            let count = try session.scalar("SELECT (SELECT COUNT(*) FROM communes) + (SELECT COUNT(*) FROM cameras)")
            guard count == .integer(0) else { return false }
            for commune in communes { try Self.put(session, commune, now: now) }
            for camera in cameras { try Self.put(session, camera, now: now) }
            return true
        }
    }

    /// Creates or replaces a commune; true when it is new.
    public func put(_ commune: CommuneRecord, now: Int64) async throws(StoreError) -> Bool {
        try await database.write { session throws(StoreError) in try Self.put(session, commune, now: now) }
    }

    /// Creates or replaces a camera; true when it is new.
    public func put(_ camera: CameraRecord, now: Int64) async throws(StoreError) -> Bool {
        try await database.write { session throws(StoreError) in try Self.put(session, camera, now: now) }
    }

    /// Removes a commune or camera; false when there was none. Past deliveries keep its id.
    public func delete(_ table: DirectoryTable, id: String) async throws(StoreError) -> Bool {
        try await database.write { session throws(StoreError) in
            try session.run("DELETE FROM \(table.rawValue) WHERE id = ?", [.text(id)]) == 1
        }
    }

    static func put(_ session: any SQLSession, _ c: CommuneRecord, now: Int64) throws(StoreError) -> Bool {
        let existed = try session.scalar("SELECT 1 FROM communes WHERE id = ?", [.text(c.id)]) != nil
        try session.run("""
            INSERT INTO communes (id, name, area, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, area = excluded.area, updated_at = excluded.updated_at
            """, [.text(c.id), .text(c.name), .text(c.area), .integer(now)])
        return !existed
    }

    /// A camera from its row (`id, name, latitude, longitude, road, km, rtsp_url`).
    static func camera(_ row: [SQLValue]) throws(StoreError) -> CameraRecord {
        var c = RowReader(row: row)
        return CameraRecord(id: try c.text(), name: try c.text(), latitude: try c.real(), longitude: try c.real(),
                            road: try c.optionalText(), km: try c.optionalReal(), rtspURL: try c.optionalText())
    }

    static func put(_ session: any SQLSession, _ c: CameraRecord, now: Int64) throws(StoreError) -> Bool {
        let existed = try session.scalar("SELECT 1 FROM cameras WHERE id = ?", [.text(c.id)]) != nil
        try session.run("""
            INSERT INTO cameras (id, name, latitude, longitude, road, km, rtsp_url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, latitude = excluded.latitude,
              longitude = excluded.longitude, road = excluded.road, km = excluded.km, rtsp_url = excluded.rtsp_url,
              updated_at = excluded.updated_at
            """, [.text(c.id), .text(c.name), .real(c.latitude), .real(c.longitude),
                  c.road.map(SQLValue.text) ?? .null, c.km.map(SQLValue.real) ?? .null, c.rtspURL.map(SQLValue.text) ?? .null,
                  .integer(now)])
        return !existed
    }
}

/// The directory's two tables.
public enum DirectoryTable: String, Sendable {
    /// Communes.
    case communes
    /// Cameras.
    case cameras
}
