import Foundation

/// Why an incident report was refused: the field (a path such as `location.lat` or
/// `info.severity`) and the reason, sent back as the 400 body.
public struct IncidentValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offending field, as a path in the submitted document.
    public let field: String
    /// What is wrong with it.
    public let reason: String

    /// Creates an error.
    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}

/// A parsed incident report: the record to store and its optional JPEG snapshot.
public struct IncidentReport: Sendable, Equatable {
    /// The incident.
    public var record: IncidentRecord
    /// The snapshot's bytes (JPEG), if one was attached.
    public var snapshot: [UInt8]?
}

/// The value sets and checks shared by the JSON and CAP forms (OASIS CAP 1.2 §3.2.2).
public enum IncidentRules {
    /// CAP `severity` values (§3.2.2).
    static let severities = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
    /// CAP `urgency` values (§3.2.2).
    static let urgencies = ["Immediate", "Expected", "Future", "Past", "Unknown"]
    /// CAP `certainty` values (§3.2.2; "Very Likely" is the deprecated spelling of Likely).
    static let certainties = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
    /// Longest identifier, type, road or sender accepted.
    static let maxShortText = 256
    /// Longest free text accepted.
    static let maxLongText = 16_384

    /// `value` if it is one of `allowed`, else an error naming the allowed values.
    static func oneOf(_ value: String?, _ allowed: [String], field: String) throws(IncidentValidationError) -> String {
        guard let value = value?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            throw IncidentValidationError(field, "is required (one of \(allowed.joined(separator: ", ")))")
        }
        if field.hasSuffix("certainty"), value == "Very Likely" { return "Likely" }
        guard allowed.contains(value) else {
            throw IncidentValidationError(field, "'\(value.prefix(40))' is not one of \(allowed.joined(separator: ", "))")
        }
        return value
    }

    /// A non-empty trimmed string of at most `max` characters and `4 × max` UTF-8 bytes, without NUL.
    static func text(_ value: String?, field: String, max: Int = maxShortText) throws(IncidentValidationError) -> String {
        guard let value = value?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            throw IncidentValidationError(field, "is required and must not be empty")
        }
        if let problem = UserText.problem(value, maxCharacters: max) { throw IncidentValidationError(field, problem) }
        return value
    }

    /// An optional string: nil when absent or blank, else as `text`.
    static func optionalText(_ value: String?, field: String, max: Int = maxShortText) throws(IncidentValidationError) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return try text(value, field: field, max: max)
    }

    /// Checks a WGS 84 position.
    static func position(latitude: Double, longitude: Double, field: String) throws(IncidentValidationError) {
        guard latitude.isFinite, (-90.0...90.0).contains(latitude) else {
            throw IncidentValidationError("\(field).lat", "\(latitude) is outside -90…90")
        }
        guard longitude.isFinite, (-180.0...180.0).contains(longitude) else {
            throw IncidentValidationError("\(field).lon", "\(longitude) is outside -180…180")
        }
    }

    /// A base64 JPEG: decoded, and checked to start with the JPEG start-of-image marker.
    /// The size limit is the hub's (`hub.max_snapshot_bytes`), checked by the route.
    static func snapshot(_ value: String?, field: String) throws(IncidentValidationError) -> [UInt8] {
        let compact = (value ?? "").filter { !$0.isWhitespace }
        guard !compact.isEmpty else { throw IncidentValidationError(field, "is empty: a base64 JPEG is expected") }
        guard let bytes = Data(base64Encoded: compact) else { throw IncidentValidationError(field, "is not base64") }
        guard bytes.count >= 4, bytes.starts(with: [0xFF, 0xD8, 0xFF]) else {
            throw IncidentValidationError(field, "is not a JPEG image (no FF D8 FF start-of-image marker)")
        }
        return Array(bytes)
    }

    /// A kilometre post: finite and not negative.
    static func kilometre(_ value: Double?, field: String) throws(IncidentValidationError) -> Double? {
        guard let value else { return nil }
        guard value.isFinite, value >= 0, value < 100_000 else {
            throw IncidentValidationError(field, "\(value) is not a kilometre post (0 or more)")
        }
        return value
    }

    /// An ISO 8601 date-time with a time zone (RFC 3339, as CAP §3.3.2 requires), returned as sent.
    public static func time(_ value: String?, field: String) throws(IncidentValidationError) -> String {
        let value = try text(value, field: field, max: 64)
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard plain.date(from: value) != nil || fractional.date(from: value) != nil else {
            throw IncidentValidationError(field, "'\(value)' is not an ISO 8601 date-time with a time zone, e.g. 2026-11-29T08:15:00+07:00")
        }
        return value
    }
}
