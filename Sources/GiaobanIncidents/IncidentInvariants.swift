/// What every accepted incident report satisfies, whatever the input was (checked by the
/// CAP and JSON fuzz targets after each successful parse).
enum IncidentInvariants {
    static func check(_ report: IncidentReport) {
        let r = report.record
        precondition(IncidentRules.severities.contains(r.severity), "severity \(r.severity)")
        precondition(IncidentRules.urgencies.contains(r.urgency), "urgency \(r.urgency)")
        precondition(IncidentRules.certainties.contains(r.certainty), "certainty \(r.certainty)")
        precondition(r.latitude.isFinite && (-90.0...90.0).contains(r.latitude), "latitude \(r.latitude)")
        precondition(r.longitude.isFinite && (-180.0...180.0).contains(r.longitude), "longitude \(r.longitude)")
        precondition(!r.identifier.isEmpty && r.identifier.count <= IncidentRules.maxShortText, "identifier")
        precondition(!r.type.isEmpty && !r.text.isEmpty && r.text.count <= IncidentRules.maxLongText * 2 + 1, "text")
        precondition(r.km.map { $0.isFinite && $0 >= 0 } ?? true, "km")
        precondition(report.snapshot.map { $0.starts(with: [0xFF, 0xD8, 0xFF]) } ?? true, "snapshot")
    }
}
