/// An incident as stored: what a camera or operator reported, already validated by the
/// control plane. `(source, identifier)` names it; a second report with the same pair is a
/// retry of the first, not a new incident.
public struct IncidentRecord: Sendable, Equatable, Codable {
    /// Who reported it: the subject of the sender's token.
    public var source: String
    /// The sender's own identifier for the report (CAP `identifier`).
    public var identifier: String
    /// How it arrived: "json" or "cap".
    public var format: String
    /// The CAP `sender` when the report was a CAP alert.
    public var sender: String?
    /// What happened (CAP `event`), e.g. "Tai nạn giao thông".
    public var type: String
    /// CAP severity: Extreme, Severe, Moderate, Minor or Unknown.
    public var severity: String
    /// CAP urgency: Immediate, Expected, Future, Past or Unknown.
    public var urgency: String
    /// CAP certainty: Observed, Likely, Possible, Unlikely or Unknown.
    public var certainty: String
    /// WGS 84 latitude in degrees.
    public var latitude: Double
    /// WGS 84 longitude in degrees.
    public var longitude: Double
    /// When it happened, ISO 8601 (RFC 3339) as reported.
    public var time: String
    /// A human description.
    public var text: String
    /// The road, e.g. "QL1A".
    public var road: String?
    /// The kilometre post on `road`.
    public var km: Double?

    /// Creates a record.
    public init(source: String, identifier: String, format: String, sender: String? = nil, type: String,
                severity: String, urgency: String, certainty: String, latitude: Double, longitude: Double,
                time: String, text: String, road: String? = nil, km: Double? = nil) {
        self.source = source
        self.identifier = identifier
        self.format = format
        self.sender = sender
        self.type = type
        self.severity = severity
        self.urgency = urgency
        self.certainty = certainty
        self.latitude = latitude
        self.longitude = longitude
        self.time = time
        self.text = text
        self.road = road
        self.km = km
    }
}

/// A stored incident: its row id, when the server committed it, and the record.
public struct StoredIncident: Sendable, Equatable {
    /// The row id: positive, increasing in commit order, never reused.
    public var id: Int64
    /// When the server received it, milliseconds since 1970.
    public var receivedAt: Int64
    /// What was reported.
    public var record: IncidentRecord
    /// Where handling stands.
    public var state: IncidentState = .new

    /// Creates a stored incident.
    public init(id: Int64, receivedAt: Int64, record: IncidentRecord, state: IncidentState = .new) {
        self.id = id
        self.receivedAt = receivedAt
        self.record = record
        self.state = state
    }
}

/// Where an incident's handling stands. States only move forward:
/// new → acknowledged → dispatched → resolved (a step may be skipped, never undone).
public enum IncidentState: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reported; nobody has acknowledged it.
    case new
    /// A recipient acknowledged it.
    case acknowledged
    /// Officers are on their way.
    case dispatched
    /// Handled.
    case resolved

    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (a: IncidentState, b: IncidentState) -> Bool { a.rank < b.rank }
}

/// One step in an incident's history: who did what, when (milliseconds since 1970).
public struct IncidentEvent: Sendable, Equatable, Codable {
    /// When.
    public var at: Int64
    /// Who: a token subject, or "giaoban" for the server's own steps (escalation).
    public var actor: String
    /// reported, acknowledged, state:dispatched, state:resolved, escalated, …
    public var action: String
    /// Detail: recipients, a note, the commune escalated.
    public var detail: String?

    /// Creates a history step.
    public init(at: Int64, actor: String, action: String, detail: String? = nil) {
        self.at = at
        self.actor = actor
        self.action = action
        self.detail = detail
    }
}
