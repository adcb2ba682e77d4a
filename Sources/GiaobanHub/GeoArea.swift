import Foundation

/// A commune's area: one or more polygons (GeoJSON Polygon or MultiPolygon, RFC 7946),
/// each an outer ring with optional holes, in (longitude, latitude) degrees.
public struct GeoArea: Sendable, Equatable {
    /// A point in WGS 84 degrees.
    public struct Point: Sendable, Equatable {
        /// Longitude.
        public var lon: Double
        /// Latitude.
        public var lat: Double
        /// Creates a point.
        public init(lon: Double, lat: Double) {
            self.lon = lon
            self.lat = lat
        }
    }
    /// Polygons; in each, ring 0 is the outline and the others are holes.
    public var polygons: [[[Point]]]

    /// Parses a GeoJSON geometry object of type Polygon or MultiPolygon.
    public init(geoJSON text: String) throws(GeoJSONError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            throw GeoJSONError("area is not JSON")
        }
        try self.init(geoJSON: object)
    }

    /// Parses a decoded GeoJSON geometry (`JSONSerialization` output).
    public init(geoJSON object: Any) throws(GeoJSONError) {
        guard let geometry = object as? [String: Any], let type = geometry["type"] as? String else {
            throw GeoJSONError("area must be a GeoJSON geometry object with a \"type\"")
        }
        let coordinates = geometry["coordinates"]
        switch type {
        case "Polygon":
            polygons = [try Self.polygon(coordinates, path: "coordinates")]
        case "MultiPolygon":
            guard let list = coordinates as? [Any], !list.isEmpty else {
                throw GeoJSONError("MultiPolygon coordinates must be a non-empty array of polygons")
            }
            var out: [[[Point]]] = []
            for (i, p) in list.enumerated() { out.append(try Self.polygon(p, path: "coordinates[\(i)]")) }
            polygons = out
        default:
            throw GeoJSONError("area type '\(type)' is not Polygon or MultiPolygon")
        }
    }

    static package func polygon(_ value: Any?, path: String) throws(GeoJSONError) -> [[Point]] {
        guard let rings = value as? [Any], !rings.isEmpty else {
            throw GeoJSONError("\(path) must be a non-empty array of linear rings")
        }
        var out: [[Point]] = []
        for (r, ringValue) in rings.enumerated() {
            guard let positions = ringValue as? [Any], positions.count >= 4 else {
                throw GeoJSONError("\(path)[\(r)] must be a closed ring of at least 4 positions")
            }
            var ring: [Point] = []
            for (i, position) in positions.enumerated() {
                guard let pair = position as? [Any], pair.count >= 2,
                      let lon = (pair[0] as? NSNumber)?.doubleValue, let lat = (pair[1] as? NSNumber)?.doubleValue,
                      (-180.0...180.0).contains(lon), (-90.0...90.0).contains(lat) else {
                    throw GeoJSONError("\(path)[\(r)][\(i)] must be [longitude, latitude] in degrees")
                }
                ring.append(Point(lon: lon, lat: lat))
            }
            guard ring.first == ring.last else {
                throw GeoJSONError("\(path)[\(r)] is not closed: its first and last positions differ")
            }
            out.append(ring)
        }
        return out
    }

    /// Whether `point` lies inside the area (inside an outline and outside its holes).
    public func contains(_ point: Point) -> Bool {
        polygons.contains { rings in
            Self.inside(point, rings[0]) && !rings.dropFirst().contains { Self.inside(point, $0) }
        }
    }

    /// The distance in metres from `point` to the area: 0 inside, else to the nearest edge.
    public func distance(to point: Point) -> Double {
        if contains(point) { return 0 }
        var best = Double.infinity
        for rings in polygons {
            for ring in rings {
                for i in 0..<(ring.count - 1) { best = min(best, Self.segmentDistance(point, ring[i], ring[i + 1])) }
            }
        }
        return best
    }

    /// Even–odd ray casting in longitude/latitude (areas are small; no antimeridian crossing).
    static package func inside(_ p: Point, _ ring: [Point]) -> Bool {
        var result = false
        var j = ring.count - 1
        for i in 0..<ring.count {
            let a = ring[i], b = ring[j]
            if (a.lat > p.lat) != (b.lat > p.lat),
               p.lon < (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon {
                result.toggle()
            }
            j = i
        }
        return result
    }

    /// Metres from `p` to segment `a`–`b`, on a local equirectangular projection around `p`
    /// (error well under 1 % at the few kilometres a routing radius covers).
    static package func segmentDistance(_ p: Point, _ a: Point, _ b: Point) -> Double {
        let metresPerDegree = 111_320.0
        let scale = cos(p.lat * .pi / 180)
        func xy(_ q: Point) -> (Double, Double) { ((q.lon - p.lon) * metresPerDegree * scale, (q.lat - p.lat) * metresPerDegree) }
        let (ax, ay) = xy(a), (bx, by) = xy(b)
        let dx = bx - ax, dy = by - ay
        let lengthSquared = dx * dx + dy * dy
        let t = lengthSquared == 0 ? 0 : max(0, min(1, -(ax * dx + ay * dy) / lengthSquared))
        let cx = ax + t * dx, cy = ay + t * dy
        return (cx * cx + cy * cy).squareRoot()
    }
}

/// Why a GeoJSON area was refused.
public struct GeoJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    package init(_ message: String) { self.message = message }
    public var description: String { message }
}
