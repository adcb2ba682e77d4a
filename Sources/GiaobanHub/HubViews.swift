package import GiaobanIncidents
package import GiaobanStore

/// One incident as the API shows it (the JSON input's shape, plus id, source, state and receipt time).
package struct IncidentView: Encodable {
    package struct Location: Encodable {
        package let lat: Double
        package let lon: Double
    }
    package let id: Int64
    package let received_at: Int64
    package let source: String
    package let format: String
    package let sender: String?
    package let identifier: String
    package let type: String
    package let severity: String
    package let urgency: String
    package let certainty: String
    package let location: Location
    package let time: String
    package let text: String
    package let road: String?
    package let km: Double?
    package let state: String
    /// The WHEP path of the reporting camera's live stream (docs/cameras.md); absent when the
    /// source is not a streaming camera.
    package let camera_stream: String?

    package init(_ stored: StoredIncident, cameras: CameraStates? = nil) {
        camera_stream = cameras?.stream(of: stored.record.source)
        let r = stored.record
        id = stored.id
        received_at = stored.receivedAt
        source = r.source
        format = r.format
        sender = r.sender
        identifier = r.identifier
        type = r.type
        severity = r.severity
        urgency = r.urgency
        certainty = r.certainty
        location = Location(lat: r.latitude, lon: r.longitude)
        time = r.time
        text = r.text
        road = r.road
        km = r.km
        state = stored.state.rawValue
    }
}

/// A briefing as the API shows it.
package struct BriefingView: Encodable {
    package struct File: Encodable {
        package let id: Int64
        package let name: String
        package let content_type: String
        package let size: Int
        package let url: String
    }
    package let id: Int64
    package let author: String
    package let title: String
    package let body: String
    package let priority: String
    package let audience: String
    package let created_at: Int64
    package let attachments: [File]

    package init(_ b: StoredBriefing) {
        id = b.id
        author = b.author
        title = b.title
        body = b.body
        priority = b.priority
        audience = b.audience
        created_at = b.createdAt
        attachments = b.attachments.map {
            File(id: $0.id, name: $0.name, content_type: $0.contentType, size: $0.size, url: "/api/briefings/\(b.id)/attachments/\($0.id)")
        }
    }
}
