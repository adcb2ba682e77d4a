import Foundation
import Testing
@testable import GiaobanIncidents

@Suite("Incident parsing: CAP 1.2 and JSON")
struct IncidentParsingTests {
    /// A file of Fixtures/, read via `#filePath` (the same files the interop suite posts).
    static func fixture(_ name: String, _ file: String = #filePath) throws -> Data {
        let folder = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return try Data(contentsOf: URL(fileURLWithPath: folder + "/Fixtures/" + name))
    }

    static func sample() throws -> String { String(decoding: try fixture("cap-ql1a-accident.xml"), as: UTF8.self) }

    @Test("the QL1A traffic sample becomes an incident with every field")
    func validCAP() throws {
        let record = try CAPAlert.parse(try Self.fixture("cap-ql1a-accident.xml"), source: "cam-1")
        #expect(record.identifier == "CSGT-DNI-CAM-QL1A-1836-20261129-0815-0001")
        #expect(record.sender == "cam-ql1a-km1836@csgt.dongnai.gov.vn")
        #expect(record.source == "cam-1" && record.format == "cap")
        #expect(record.type == "Tai nạn giao thông")
        #expect(record.severity == "Severe" && record.urgency == "Immediate" && record.certainty == "Observed")
        #expect(record.latitude == 10.953 && record.longitude == 107.011)
        #expect(record.time == "2026-11-29T08:14:10+07:00")  // onset, not sent
        #expect(record.road == "QL1A" && record.km == 1836.5)
        #expect(record.text.hasPrefix("Va chạm giữa xe tải") && record.text.contains("ùn tắc khoảng 1,5 km"))
    }

    @Test("a polygon area is placed at its centroid")
    func polygon() throws {
        let xml = try Self.sample().replacingOccurrences(
            of: "<circle>10.9530,107.0110 0.5</circle>",
            with: "<polygon>10.0,107.0 10.0,107.2 10.2,107.2 10.2,107.0 10.0,107.0</polygon>")
        let record = try CAPAlert.parse(Data(xml.utf8), source: "cam-1")
        #expect(abs(record.latitude - 10.1) < 1e-9 && abs(record.longitude - 107.1) < 1e-9)
    }

    /// A malformed document and the field and words its error must name.
    struct Malformed: Sendable, CustomStringConvertible {
        let name: String
        let edit: @Sendable (String) -> String
        let field: String
        let reason: String
        var description: String { name }
    }

    static let malformed: [Malformed] = [
        Malformed(name: "missing identifier", edit: { $0.replacingOccurrences(
            of: "<identifier>CSGT-DNI-CAM-QL1A-1836-20261129-0815-0001</identifier>", with: "") },
                  field: "alert.identifier", reason: "required"),
        Malformed(name: "bad severity", edit: { $0.replacingOccurrences(of: "<severity>Severe</severity>",
                                                                         with: "<severity>Catastrophic</severity>") },
                  field: "info.severity", reason: "'Catastrophic' is not one of Extreme, Severe, Moderate, Minor, Unknown"),
        Malformed(name: "not XML", edit: { _ in "{\"identifier\": \"this is JSON\"}" }, field: "body", reason: "not well-formed XML"),
        Malformed(name: "truncated", edit: { String($0.prefix(400)) }, field: "body", reason: "not well-formed XML"),
        Malformed(name: "wrong root", edit: { _ in "<feed><entry/></feed>" }, field: "alert", reason: "<feed>"),
        Malformed(name: "bad sent time", edit: { $0.replacingOccurrences(of: "<sent>2026-11-29T08:15:42+07:00</sent>",
                                                                          with: "<sent>29/11/2026 08:15</sent>") },
                  field: "alert.sent", reason: "ISO 8601"),
        Malformed(name: "no area", edit: { $0.replacingOccurrences(of: "<circle>10.9530,107.0110 0.5</circle>", with: "") },
                  field: "info.area", reason: "circle"),
        Malformed(name: "latitude out of range", edit: { $0.replacingOccurrences(of: "10.9530,107.0110 0.5", with: "95.0,107.0 0.5") },
                  field: "info.area.circle.lat", reason: "outside -90…90"),
        Malformed(name: "DTD", edit: { $0.replacingOccurrences(of: "<alert ", with: "<!DOCTYPE alert [<!ENTITY x \"y\">]><alert ") },
                  field: "body", reason: "DTD"),
        Malformed(name: "empty body", edit: { _ in "" }, field: "body", reason: "XML"),
    ]

    @Test("malformed CAP is refused with the field and the reason", arguments: malformed)
    func malformedCAP(_ sample: Malformed) throws {
        let xml = sample.edit(try Self.sample())
        #expect {
            _ = try CAPAlert.parse(Data(xml.utf8), source: "cam-1")
        } throws: { error in
            guard let error = error as? IncidentValidationError else { return false }
            return error.field == sample.field && error.reason.contains(sample.reason)
        }
    }

    static let json = """
        {"identifier": "cam-ql1a-0042", "type": "Tai nạn giao thông", "severity": "Moderate",
         "urgency": "Expected", "certainty": "Likely", "location": {"lat": 10.95, "lon": 107.01},
         "time": "2026-11-29T01:14:10.250Z", "text": "Xe máy ngã", "road": "QL1A", "km": 1836}
        """

    @Test("a valid JSON report")
    func validJSON() throws {
        let record = try IncidentJSON.parse(Data(Self.json.utf8), source: "cam-9")
        #expect(record.identifier == "cam-ql1a-0042" && record.severity == "Moderate" && record.km == 1836)
        #expect(record.format == "json" && record.sender == nil && record.latitude == 10.95)
    }

    @Test("malformed JSON reports name the field", arguments: [
        ("{", "body", "not valid JSON"),
        (json.replacingOccurrences(of: "\"Moderate\"", with: "\"moderate\""), "severity", "not one of"),
        (json.replacingOccurrences(of: "\"lat\": 10.95", with: "\"lat\": \"ten\""), "location.lat", "a number"),
        (json.replacingOccurrences(of: "\"identifier\": \"cam-ql1a-0042\",", with: ""), "identifier", "required"),
        (json.replacingOccurrences(of: "2026-11-29T01:14:10.250Z", with: "yesterday"), "time", "ISO 8601"),
        (json.replacingOccurrences(of: "\"km\": 1836", with: "\"km\": -3"), "km", "kilometre"),
        ("[1, 2]", "body", "an object"),
    ])
    func malformedJSON(_ body: String, _ field: String, _ reason: String) {
        #expect {
            _ = try IncidentJSON.parse(Data(body.utf8), source: "cam-9")
        } throws: { error in
            guard let error = error as? IncidentValidationError else { return false }
            return error.field == field && error.reason.contains(reason)
        }
    }
}
