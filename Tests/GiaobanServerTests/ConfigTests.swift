@testable import GiaobanServer
import Testing

@Suite("Configuration file and environment overrides")
struct ConfigTests {
    @Test("the shipped conf/giaoban.toml parses and equals the built-in defaults")
    func shippedDefaults() throws {
        let file = #filePath
        let root = try #require(file.range(of: "/Tests/")).lowerBound
        let config = try GiaobanConfig.load(path: file[..<root] + "/conf/giaoban.toml", environment: [:])
        #expect(config == GiaobanConfig())
    }

    @Test("values of every type, comments, and sections")
    func parsing() throws {
        let file = try ConfigFile(parsing: """
            top = 1 # a comment
            [http]
            address = "0.0.0.0"   # the address
            port = 8_443
            tls = true
            names = ["a", "b#c", 3]
            quote = "say \\"hi\\""
            """)
        #expect(file.values["top"] == .integer(1))
        #expect(file.values["http.address"] == .string("0.0.0.0"))
        #expect(file.values["http.port"] == .integer(8443))
        #expect(file.values["http.tls"] == .boolean(true))
        #expect(file.values["http.names"] == .array([.string("a"), .string("b#c"), .integer(3)]))
        #expect(file.values["http.quote"] == .string("say \"hi\""))
        #expect(file.lines["http.port"] == 4)
    }

    @Test("malformed files are rejected with the line number", arguments: [
        ("[http\nport = 1", ":1:"),
        ("[http]\nport 1", ":2:"),
        ("[http]\nport = 1\nport = 2", "set twice"),
        ("[http]\naddress = \"open", "unterminated"),
        ("[http]\naddress = localhost", "strings need quotes"),
        ("[http]\nport = [1, 2", "expected ','"),
        ("[http]\nport = 1 2", "unexpected"),
    ])
    func malformed(text: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { try ConfigFile(parsing: text, source: "test.toml") }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test("unknown keys, wrong types and out-of-range values are errors naming the key")
    func validation() throws {
        for (text, expected) in [
            ("[http]\nprot = 80", "unknown key 'http.prot'"),
            ("[http]\nport = \"80\"", "http.port must be an integer"),
            ("[http]\nport = 70000", "outside 0…65535"),
            ("[server]\nlog_level = \"loud\"", "log_level 'loud'"),
        ] {
            let file = try ConfigFile(parsing: text, source: "x.toml")
            let error = #expect(throws: ConfigError.self) { try GiaobanConfig(file, source: "x.toml") }
            #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
        }
    }

    @Test("environment overrides beat the file and are type-checked")
    func environment() throws {
        let config = try GiaobanConfig.load(path: nil, environment: [
            "GIAOBAN_HTTP_PORT": "9000", "GIAOBAN_HTTP_ADDRESS": "0.0.0.0", "PATH": "/bin",
        ])
        #expect(config.http.port == 9000)
        #expect(config.http.address == "0.0.0.0")
        #expect(throws: ConfigError.self) { try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_HTTP_PORT": "eighty"]) }
        #expect(throws: ConfigError.self) { try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_NOPE": "1"]) }
        #expect(throws: ConfigError.self) { try GiaobanConfig.load(path: "/nonexistent/giaoban.toml", environment: [:]) }
    }
}

@Suite("Media port range")
struct PortRangeTests {
    @Test("a range replaces the single port; a malformed range is an error")
    func range() throws {
        var file = try ConfigFile(parsing: "[media]\nudp_port_range = \"41000-41009\"")
        #expect(try GiaobanConfig(file).media.candidatePorts == 41_000...41_009)
        #expect(GiaobanConfig().media.candidatePorts == 40_000...40_000)
        for bad in ["41000", "5-3", "a-b", "0-10", "1-70000"] {
            file = try ConfigFile(parsing: "[media]\nudp_port_range = \"\(bad)\"")
            #expect(throws: ConfigError.self, "\(bad)") { try GiaobanConfig(file) }
        }
    }
}
