public import Foundation

/// An OASIS CAP 1.2 `<alert>` (http://docs.oasis-open.org/emergency/cap/v1.2/) read as an
/// incident. The alert's required elements are checked (§3.2.1); the first `<info>` block
/// gives the incident: `event` → type, `urgency`/`severity`/`certainty`, `onset` (else the
/// alert's `sent`) → time, `headline` and `description` → text, `parameter` road/km, and the
/// first `area`'s `circle` centre or `polygon` centroid (§3.2.4) → location.
public enum CAPAlert {
    /// The CAP 1.2 XML namespace.
    public static let namespace = "urn:oasis:names:tc:emergency:cap:1.2"
    static let statuses = ["Actual", "Exercise", "System", "Test", "Draft"]
    static let messageTypes = ["Alert", "Update", "Cancel", "Ack", "Error"]
    static let scopes = ["Public", "Restricted", "Private"]
    static let categories = ["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                             "Transport", "Infra", "CBRNE", "Other"]

    /// Parses and validates a CAP document sent by `source` (the token's subject).
    public static func parse(_ data: Data, source: String) throws(IncidentValidationError) -> IncidentRecord {
        try parseReport(data, source: source).record
    }

    /// `parse`, plus the snapshot: the first `<resource>` of the `<info>` whose `mimeType` is
    /// image/jpeg, its bytes in `derefUri` (base64, §3.2.3).
    public static func parseReport(_ data: Data, source: String) throws(IncidentValidationError) -> IncidentReport {
        let alert = try XMLTreeElement.parse(data)
        guard alert.name == "alert" else {
            throw IncidentValidationError("alert", "the root element is <\(alert.name)>, not a CAP <alert>")
        }
        guard alert.namespace == nil || alert.namespace == "" || alert.namespace == namespace else {
            throw IncidentValidationError("alert", "namespace '\(alert.namespace ?? "")' is not CAP 1.2 (\(namespace))")
        }
        let identifier = try IncidentRules.text(alert.value("identifier"), field: "alert.identifier")
        guard !identifier.contains(where: { $0 == " " || $0 == "," || $0 == "<" || $0 == "&" }) else {
            throw IncidentValidationError("alert.identifier", "must not contain spaces, commas or restricted characters (CAP §3.2.1)")
        }
        let sender = try IncidentRules.text(alert.value("sender"), field: "alert.sender")
        let sent = try IncidentRules.time(alert.value("sent"), field: "alert.sent")
        _ = try IncidentRules.oneOf(alert.value("status"), statuses, field: "alert.status")
        _ = try IncidentRules.oneOf(alert.value("msgType"), messageTypes, field: "alert.msgType")
        _ = try IncidentRules.oneOf(alert.value("scope"), scopes, field: "alert.scope")
        guard let info = alert.child("info") else {
            throw IncidentValidationError("alert.info", "is required: an incident needs an <info> block")
        }
        let infoCategories = info.children("category").map(\.text)
        guard let category = infoCategories.first else {
            throw IncidentValidationError("info.category", "is required (one of \(categories.joined(separator: ", ")))")
        }
        _ = try IncidentRules.oneOf(category, categories, field: "info.category")
        let headline = try IncidentRules.optionalText(info.value("headline"), field: "info.headline")
        let description = try IncidentRules.optionalText(info.value("description"), field: "info.description",
                                                         max: IncidentRules.maxLongText)
        let text = [headline, description].compactMap { $0 }.joined(separator: "\n")
        guard !text.isEmpty else {
            throw IncidentValidationError("info.headline", "a headline or a description is required")
        }
        let (latitude, longitude) = try location(info)
        let parameters = Dictionary(info.children("parameter").compactMap { p -> (String, String)? in
            guard let name = p.value("valueName"), let value = p.value("value") else { return nil }
            return (name.lowercased(), value)
        }, uniquingKeysWith: { first, _ in first })
        var km: Double?
        if let raw = parameters["km"] {
            guard let value = Double(raw) else { throw IncidentValidationError("info.parameter.km", "'\(raw.prefix(20))' is not a number") }
            km = try IncidentRules.kilometre(value, field: "info.parameter.km")
        }
        let onset = try info.value("onset").map { v throws(IncidentValidationError) in try IncidentRules.time(v, field: "info.onset") }
        let jpeg = info.children("resource").first { $0.value("mimeType")?.lowercased() == "image/jpeg" }
        let snapshot = try jpeg.map { resource throws(IncidentValidationError) in
            try IncidentRules.snapshot(resource.value("derefUri"), field: "info.resource.derefUri")
        }
        let record = IncidentRecord(
            source: source, identifier: identifier, format: "cap", sender: sender,
            type: try IncidentRules.text(info.value("event"), field: "info.event"),
            severity: try IncidentRules.oneOf(info.value("severity"), IncidentRules.severities, field: "info.severity"),
            urgency: try IncidentRules.oneOf(info.value("urgency"), IncidentRules.urgencies, field: "info.urgency"),
            certainty: try IncidentRules.oneOf(info.value("certainty"), IncidentRules.certainties, field: "info.certainty"),
            latitude: latitude, longitude: longitude, time: onset ?? sent,
            text: text, road: try IncidentRules.optionalText(parameters["road"], field: "info.parameter.road"), km: km)
        return IncidentReport(record: record, snapshot: snapshot)
    }

    /// The point of the first `<area>`: a circle's centre, else a polygon's vertex centroid.
    static func location(_ info: XMLTreeElement) throws(IncidentValidationError) -> (Double, Double) {
        guard let area = info.child("area") else {
            throw IncidentValidationError("info.area", "is required: the incident's place as a <circle> or <polygon>")
        }
        if let circle = area.value("circle") {
            // §3.2.4: "lat,lon radius" (radius in km).
            let parts = circle.split(whereSeparator: \.isWhitespace)
            guard parts.count == 2, let radius = Double(parts[1]), radius >= 0, let point = point(parts[0]) else {
                throw IncidentValidationError("info.area.circle", "'\(circle.prefix(60))' is not \"lat,lon radius\"")
            }
            try IncidentRules.position(latitude: point.0, longitude: point.1, field: "info.area.circle")
            return point
        }
        if let polygon = area.value("polygon") {
            // §3.2.4: at least four "lat,lon" pairs, the first equal to the last.
            let pairs = polygon.split(whereSeparator: \.isWhitespace)
            let points = pairs.compactMap(point)
            guard points.count == pairs.count, points.count >= 4, points.first! == points.last! else {
                throw IncidentValidationError("info.area.polygon", "needs four or more \"lat,lon\" pairs, the first equal to the last")
            }
            let vertices = points.dropLast()
            let lat = vertices.map(\.0).reduce(0, +) / Double(vertices.count)
            let lon = vertices.map(\.1).reduce(0, +) / Double(vertices.count)
            for p in vertices { try IncidentRules.position(latitude: p.0, longitude: p.1, field: "info.area.polygon") }
            return (lat, lon)
        }
        throw IncidentValidationError("info.area", "needs a <circle> or a <polygon> (geocodes alone cannot be placed)")
    }

    static func point(_ text: Substring) -> (Double, Double)? {
        let parts = text.split(separator: ",")
        guard parts.count == 2, let lat = Double(parts[0]), let lon = Double(parts[1]) else { return nil }
        return (lat, lon)
    }
}
