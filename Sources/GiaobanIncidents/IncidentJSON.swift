public import Foundation

/// The JSON form of an incident report (`POST /api/incidents`, `Content-Type: application/json`):
///
/// ```json
/// {"identifier": "cam-ql1a-km1125-0042", "type": "Tai nạn giao thông", "severity": "Severe",
///  "urgency": "Immediate", "certainty": "Observed", "location": {"lat": 10.93, "lon": 106.95},
///  "time": "2026-11-29T08:15:00+07:00", "text": "Va chạm 2 xe tải", "road": "QL1A", "km": 1125.4}
/// ```
///
/// `severity`, `urgency` and `certainty` take CAP 1.2's values; `road` and `km` are optional.
public enum IncidentJSON {
    /// Every field optional so that a missing one is reported by name, not as a decoding failure.
    struct Body: Decodable {
        struct Location: Decodable {
            var lat: Double?
            var lon: Double?
        }
        var identifier: String?
        var type: String?
        var severity: String?
        var urgency: String?
        var certainty: String?
        var location: Location?
        var time: String?
        var text: String?
        var road: String?
        var km: Double?
        var snapshot: String?
    }

    /// Parses and validates a JSON report sent by `source` (the token's subject).
    public static func parse(_ data: Data, source: String) throws(IncidentValidationError) -> IncidentRecord {
        try parseReport(data, source: source).record
    }

    /// `parse`, plus the optional `snapshot`: a JPEG, base64.
    public static func parseReport(_ data: Data, source: String) throws(IncidentValidationError) -> IncidentReport {
        let body: Body
        do { body = try JSONDecoder().decode(Body.self, from: data) } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw IncidentValidationError("body", "is not JSON: \(error.localizedDescription)")
        }
        // Checked in the order the fields are documented, so the first problem is reported.
        let identifier = try IncidentRules.text(body.identifier, field: "identifier")
        let type = try IncidentRules.text(body.type, field: "type")
        let severity = try IncidentRules.oneOf(body.severity, IncidentRules.severities, field: "severity")
        let urgency = try IncidentRules.oneOf(body.urgency, IncidentRules.urgencies, field: "urgency")
        let certainty = try IncidentRules.oneOf(body.certainty, IncidentRules.certainties, field: "certainty")
        guard let location = body.location else {
            throw IncidentValidationError("location", "is required: {\"lat\": <degrees>, \"lon\": <degrees>}")
        }
        guard let lat = location.lat else { throw IncidentValidationError("location.lat", "is required (degrees, WGS 84)") }
        guard let lon = location.lon else { throw IncidentValidationError("location.lon", "is required (degrees, WGS 84)") }
        try IncidentRules.position(latitude: lat, longitude: lon, field: "location")
        let record = IncidentRecord(
            source: source, identifier: identifier, format: "json", type: type,
            severity: severity, urgency: urgency, certainty: certainty, latitude: lat, longitude: lon,
            time: try IncidentRules.time(body.time, field: "time"),
            text: try IncidentRules.text(body.text, field: "text", max: IncidentRules.maxLongText),
            road: try IncidentRules.optionalText(body.road, field: "road"),
            km: try IncidentRules.kilometre(body.km, field: "km"))
        let snapshot = try body.snapshot.map { text throws(IncidentValidationError) in
            try IncidentRules.snapshot(text, field: "snapshot")
        }
        return IncidentReport(record: record, snapshot: snapshot)
    }

    /// A decoding failure as the field it concerns and what was expected there.
    public static func describe(_ error: DecodingError) -> IncidentValidationError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "body" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context):
            return IncidentValidationError(path(context.codingPath), "expected \(expected(type))")
        case .valueNotFound(let type, let context):
            return IncidentValidationError(path(context.codingPath), "expected \(expected(type)), got null")
        case .keyNotFound(let key, let context):
            return IncidentValidationError(path(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            return IncidentValidationError(path(context.codingPath), context.codingPath.isEmpty
                ? "is not valid JSON" : "has an invalid value")
        @unknown default:
            return IncidentValidationError("body", "cannot be decoded")
        }
    }

    static func expected(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type: "a number"
        case is String.Type: "a string"
        default: "an object"
        }
    }
}
