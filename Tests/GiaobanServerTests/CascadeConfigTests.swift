import Foundation
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
