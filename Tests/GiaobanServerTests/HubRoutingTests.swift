import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanTestSupport
import GiaobanHub

@Suite("Hub: areas and routing")
struct HubRoutingTests {
    @Test("polygon containment, holes, MultiPolygon and distance to the edge")
    func geometry() throws {
        let square = try GeoArea(geoJSON: HubFixture.square(lon: 106.8, lat: 10.8))
        #expect(square.contains(.init(lon: 106.85, lat: 10.85)))
        #expect(!square.contains(.init(lon: 106.95, lat: 10.85)))
        // 0.01° of longitude at 10.85° N is about 1,093 m.
        let outside = square.distance(to: .init(lon: 106.91, lat: 10.85))
        #expect(outside > 1_050 && outside < 1_140)
        #expect(square.distance(to: .init(lon: 106.85, lat: 10.85)) == 0)
        let holed = try GeoArea(geoJSON: """
            {"type": "Polygon", "coordinates": [[[0,0],[4,0],[4,4],[0,4],[0,0]], [[1,1],[3,1],[3,3],[1,3],[1,1]]]}
            """)
        #expect(holed.contains(.init(lon: 0.5, lat: 0.5)))
        #expect(!holed.contains(.init(lon: 2, lat: 2)))
        let multi = try GeoArea(geoJSON: """
            {"type": "MultiPolygon", "coordinates": [[[[0,0],[1,0],[1,1],[0,1],[0,0]]], [[[5,5],[6,5],[6,6],[5,6],[5,5]]]]}
            """)
        #expect(multi.contains(.init(lon: 5.5, lat: 5.5)) && multi.contains(.init(lon: 0.5, lat: 0.5)))
        #expect(!multi.contains(.init(lon: 3, lat: 3)))
    }

    @Test("malformed areas are refused with the reason", arguments: [
        (#"{"type": "Point", "coordinates": [1, 2]}"#, "not Polygon or MultiPolygon"),
        (#"{"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1]]]}"#, "not closed"),
        (#"{"type": "Polygon", "coordinates": [[[0,0],[1,0],[0,0]]]}"#, "at least 4 positions"),
        (#"{"type": "Polygon", "coordinates": [[[0,0],[200,0],[1,1],[0,0]]]}"#, "[longitude, latitude]"),
        (#"[1, 2]"#, "GeoJSON geometry object"),
        (#"{"type": "Polygon""#, "not JSON"),
    ])
    func malformedAreas(text: String, reason: String) {
        #expect(throws: GeoJSONError.self) { _ = try GeoArea(geoJSON: text) }
        do { _ = try GeoArea(geoJSON: text) } catch { #expect(error.message.contains(reason), "\(error.message)") }
    }

    @Test("an incident goes to the commune containing it, neighbours within the radius, and the command center", arguments: StoreBackend.allCases)
    func routing(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend, radius: 1_000)
        defer { fixture.cleanup() }
        let app = fixture.application()
        try await app.test(.router) { client in
            let cases: [(String, Double, Double, [String])] = [
                ("inside-a", 10.85, 106.85, ["command", "xa-a"]),
                // 0.005° (≈ 550 m) west of the a|b border: a contains it, b is within 1 km.
                ("border-ab", 10.85, 106.895, ["command", "xa-a", "xa-b"]),
                // Near the corner shared by all four squares.
                ("corner", 10.899, 106.899, ["command", "xa-a", "xa-b", "xa-c", "xa-d"]),
                ("far-away", 11.5, 107.5, ["command"]),
            ]
            for (id, lat, lon, expected) in cases {
                try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                         body: HubFixture.report(id, lat: lat, lon: lon)) { r in
                    #expect(r.status == .created)
                    #expect(jsonObject(String(buffer: r.body))["recipients"] as? [String] == expected, "\(id)")
                }
            }
            // A commune lists only what was routed to it.
            try await client.execute(uri: "/api/incidents", method: .get, headers: HubFixture.headers(.commune, "xa-d")) { r in
                let items = jsonObject(String(buffer: r.body))["incidents"] as? [[String: Any]] ?? []
                #expect(items.compactMap { $0["identifier"] as? String } == ["corner"])
            }
            try await client.execute(uri: "/api/incidents", method: .get, headers: HubFixture.headers(.chair, "officer-1")) { r in
                #expect((jsonObject(String(buffer: r.body))["incidents"] as? [Any])?.count == 4)
            }
        }
    }

    @Test("an admin edits the directory and routing follows; bad entries are refused", arguments: StoreBackend.allCases)
    func directoryEdits(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend, radius: 0)
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let area = HubFixture.square(lon: 107.4, lat: 11.4, size: 0.2)
            let body = ByteBuffer(string: #"{"name": "Xã Mới", "area": \#(area)}"#)
            try await client.execute(uri: "/api/communes/xa-moi", method: .put, headers: HubFixture.headers(.chair, "officer-1"), body: body) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(uri: "/api/communes/xa-moi", method: .put, headers: HubFixture.headers(.admin, "ops"), body: body) { r in
                #expect(r.status == .created)
            }
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("new-area", lat: 11.5, lon: 107.5)) { r in
                #expect(jsonObject(String(buffer: r.body))["recipients"] as? [String] == ["command", "xa-moi"])
            }
            let broken = ByteBuffer(string: #"{"name": "Xã Hỏng", "area": {"type": "Polygon", "coordinates": [[[0,0],[1,1]]]}}"#)
            try await client.execute(uri: "/api/communes/xa-hong", method: .put, headers: HubFixture.headers(.admin, "ops"), body: broken) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("area"))
            }
            try await client.execute(uri: "/api/communes/xa-moi", method: .delete, headers: HubFixture.headers(.admin, "ops")) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("after-delete", lat: 11.5, lon: 107.5)) { r in
                #expect(jsonObject(String(buffer: r.body))["recipients"] as? [String] == ["command"])
            }
            try await client.execute(uri: "/api/cameras", method: .get, headers: HubFixture.headers(.commune, "xa-a")) { r in
                let cameras = jsonObject(String(buffer: r.body))["cameras"] as? [[String: Any]] ?? []
                #expect(cameras.compactMap { $0["id"] as? String } == ["cam-1"])
            }
        }
    }
}
