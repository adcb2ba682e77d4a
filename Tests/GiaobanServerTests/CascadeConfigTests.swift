import Foundation
import GiaobanEngine
@testable import GiaobanServer
import Testing

@Suite("Cascade configuration")
struct CascadeConfigTests {
    @Test("no parent by default; a parent needs an http(s) URL and a key file, and the key file one key")
    func settings() throws {
        #expect(!GiaobanConfig().cascade.isEnabled)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-cascade-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try GiaobanConfig.load(path: nil, environment: [
            "GIAOBAN_CASCADE_PARENT": "\"https://province.example:8443\"", "GIAOBAN_CASCADE_KEY_FILE": "\(dir)/parent.key",
            "GIAOBAN_CASCADE_IDLE_S": "5",
        ])
        #expect(config.cascade.isEnabled && config.cascade.parent == "https://province.example:8443" && config.cascade.idleS == 5)
        for (environment, words) in [
            (["GIAOBAN_CASCADE_PARENT": "province.example:8443", "GIAOBAN_CASCADE_KEY_FILE": "k"], "cascade.parent must be an http:// or https:// URL"),
            (["GIAOBAN_CASCADE_PARENT": "\"http://10.0.0.1:8080\""], "cascade.key_file must name the file"),
            (["GIAOBAN_CASCADE_IDLE_S": "0"], "cascade.idle_s = 0 is outside"),
        ] {
            #expect("\(environment)") { _ = try GiaobanConfig.load(path: nil, environment: environment) } throws: { error in
                "\(error)".contains(words)
            }
        }
        // The key file: missing, empty or more than one word is refused with the file named.
        let path = "\(dir)/parent.key"
        #expect(throws: ConfigError.self) { _ = try RelayTrunks.readKey(path) }
        for bad in ["", "  \n", "gbk_1 gbk_2\n"] {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self, "\(bad.debugDescription)") { _ = try RelayTrunks.readKey(path) }
        }
        try "gbk_0123456789abcdef_secret\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try RelayTrunks.readKey(path) == "gbk_0123456789abcdef_secret")
    }
}

@Suite("Cascade: which simulcast layers a trunk pulls")
struct TrunkLayerDemandTests {
    typealias Demand = MediaRouter.TrunkDemand
    static let parent = [100_000, 350_000, 900_000]

    static func wanted(_ demand: Demand, parent: [Int] = parent, measured: [Int: Int] = [:]) -> [Int] {
        (1..<3).filter { RelayTrunks.Trunk.wants(rank: $0, demand: demand, parentBitrates: parent, measured: measured[$0]) }
    }

    @Test("up to the highest REMB among the watchers here; every layer for a watcher that sends none; none unwatched")
    func byCap() {
        #expect(Self.wanted(Demand(watched: true, cap: 200_000, layerBitrates: [])) == [])
        #expect(Self.wanted(Demand(watched: true, cap: 400_000, layerBitrates: [])) == [1])
        #expect(Self.wanted(Demand(watched: true, cap: 900_000, layerBitrates: [])) == [1, 2])
        #expect(Self.wanted(Demand(watched: true, cap: nil, layerBitrates: [])) == [1, 2])
        #expect(Self.wanted(Demand(watched: false, cap: nil, layerBitrates: [])) == [])
    }

    @Test("only the layers the parent's stream has")
    func byLayers() {
        #expect(Self.wanted(Demand(watched: true, cap: nil, layerBitrates: []), parent: [400_000]) == [])
        #expect(Self.wanted(Demand(watched: true, cap: nil, layerBitrates: []), parent: [100_000, 300_000]) == [1])
    }

    @Test("what a layer carries as measured here wins over the parent's figure, also after the layer was let go")
    func measuredHere() {
        // The parent answered before it had measured its publisher (0): the figure here decides.
        let unmeasured = [0, 0, 0]
        #expect(Self.wanted(Demand(watched: true, cap: 200_000, layerBitrates: []), parent: unmeasured) == [1, 2])
        #expect(Self.wanted(Demand(watched: true, cap: 200_000, layerBitrates: []), parent: unmeasured,
                            measured: [1: 320_000, 2: 880_000]) == [])
        #expect(Self.wanted(Demand(watched: true, cap: 500_000, layerBitrates: []), parent: unmeasured,
                            measured: [1: 320_000, 2: 880_000]) == [1])
    }
}
