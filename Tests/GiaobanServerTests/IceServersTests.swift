import Foundation
import GiaobanCrypto
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import GiaobanAuth

/// `media.ice_servers` and `GET /api/ice-servers`: STUN/TURN URLs for the pages, TURN entries
/// with TURN REST credentials (draft-uberti-behave-turn-rest-00 §2.2) as coturn checks them.
@Suite("ICE servers and TURN credentials")
struct IceServersTests {
    static func hex(_ s: String) -> [UInt8] {
        stride(from: 0, to: s.count, by: 2).map { i in
            let start = s.index(s.startIndex, offsetBy: i)
            return UInt8(s[start..<s.index(start, offsetBy: 2)], radix: 16)!
        }
    }

    static func config(_ text: String) throws(ConfigError) -> GiaobanConfig {
        try GiaobanConfig(try ConfigFile(parsing: text, source: "x.toml"), source: "x.toml")
    }

    /// A secret file in a fresh temporary directory; removed by the caller.
    static func secretFile(_ content: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-turn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("turn.secret").path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("HMAC-SHA1 through OpenSSL: RFC 2202 test cases 1, 2 and 6")
    func rfc2202() {
        #expect(HMACSHA1Code.authenticationCode(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))
            == Self.hex("b617318655057264e28bc0b6fb378c8ef146be00"))
        #expect(HMACSHA1Code.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
            == Self.hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
        // Test case 6: an 80-byte key, longer than the 64-byte block, is hashed first.
        #expect(HMACSHA1Code.authenticationCode(key: [UInt8](repeating: 0xaa, count: 80),
                                                message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
            == Self.hex("aa4ae5e15272d00e95705637ce8a3b55ed402112"))
    }

    @Test("a minted credential: username '<now + ttl>:<subject>', password base64(HMAC-SHA1(secret, username))")
    func minting() {
        let minter = TURNCredentials(secret: Array("turn-shared-secret-0123456789".utf8), ttlSeconds: 3600)
        let minted = minter.mint(subject: "xa-an-phu", now: 1_700_000_000)
        #expect(minted.username == "1700003600:xa-an-phu")
        // Computed independently: python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
        //   b'turn-shared-secret-0123456789', b'1700003600:xa-an-phu', hashlib.sha1).digest()).decode())"
        #expect(minted.credential == "wFcB3w6rrP/GyZ8f7SHU6wXUtq8=")
    }

    @Test("STUN and TURN URLs parse and print back as configured", arguments: [
        "stun:stun.example.org", "stun:192.0.2.1:3478", "turn:turn.example:3478?transport=udp",
        "turn:turn.example:3478?transport=tcp", "turns:turn.example:5349?transport=tcp", "turn:[2001:db8::1]:3478",
    ])
    func validURLs(text: String) throws {
        #expect(try ICEServerURL(parsing: text).description == text)
    }

    @Test("the three keys are read; a single string is a one-element list (environment)")
    func keys() throws {
        let config = try Self.config("""
            [media]
            ice_servers = ["stun:stun.example.org:3478", "turn:turn.example:3478?transport=udp", "turns:turn.example:5349?transport=tcp"]
            turn_secret_file = "var/turn.secret"
            turn_credential_ttl_s = 600
            """)
        #expect(config.media.iceServers.map(\.description) == ["stun:stun.example.org:3478", "turn:turn.example:3478?transport=udp",
                                                               "turns:turn.example:5349?transport=tcp"])
        #expect(config.media.iceServers.map(\.scheme) == [.stun, .turn, .turns])
        #expect(config.media.iceServers[1].port == 3478 && config.media.iceServers[1].transport == .udp)
        #expect(config.media.turnSecretFile == "var/turn.secret")
        #expect(config.media.turnCredentialTTLSeconds == 600)
        #expect(GiaobanConfig().media.turnCredentialTTLSeconds == 3600)
        let fromEnvironment = try GiaobanConfig.load(path: nil, environment: [
            "GIAOBAN_MEDIA_ICE_SERVERS": "turn:127.0.0.1:3478?transport=tcp", "GIAOBAN_MEDIA_TURN_SECRET_FILE": "/tmp/s",
        ])
        #expect(fromEnvironment.media.iceServers.map(\.description) == ["turn:127.0.0.1:3478?transport=tcp"])
        let list = try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_MEDIA_ICE_SERVERS": "[\"stun:a.example\", \"stun:b.example\"]"])
        #expect(list.media.iceServers.count == 2)
    }

    @Test("bad values are errors naming the key and saying what is wrong", arguments: [
        ("ice_servers = [\"http://turn.example\"]", "media.ice_servers[0] \"http://turn.example\": the scheme must be stun:, turn: or turns:"),
        ("ice_servers = [\"stun:a.example\", \"turn:\"]", "media.ice_servers[1] \"turn:\": the host is missing"),
        ("ice_servers = [\"turn:turn.example:99999\"]", "the port '99999' is not in 1…65535"),
        ("ice_servers = [\"turn:turn.example:x\"]", "the port 'x' is not in 1…65535"),
        ("ice_servers = [\"turn:turn.example?transport=sctp\"]", "the only query is ?transport=udp or ?transport=tcp"),
        ("ice_servers = [\"stun:a.example?transport=udp\"]", "a stun: URL takes no query"),
        ("ice_servers = [\"turn:bad_host!:3478\"]", "is not a host name"),
        ("ice_servers = [\"turn:[::1:3478\"]", "closing ]"),
        ("ice_servers = [3478]", "media.ice_servers must be an array of strings"),
        ("ice_servers = [\"turn:turn.example\"]", "media.turn_secret_file must name the shared secret file"),
        ("turn_credential_ttl_s = 10", "media.turn_credential_ttl_s = 10 is outside 60…86400"),
        ("turn_credential_ttl_s = 100000", "outside 60…86400"),
    ])
    func invalid(line: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { try Self.config("[media]\n" + line) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains("x.toml") == true, "the error names the file")
    }

    @Test("the secret file: read trimmed, at least 16 characters; its content is never in an error")
    func secret() throws {
        let path = try Self.secretFile("  turn-shared-secret-0123456789\n")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(try TURNCredentials.loadSecret(path) == Array("turn-shared-secret-0123456789".utf8))
        let short = try Self.secretFile("short-secret\n")
        defer { try? FileManager.default.removeItem(atPath: (short as NSString).deletingLastPathComponent) }
        let error = #expect(throws: ConfigError.self) { try TURNCredentials.loadSecret(short) }
        #expect(error?.message.contains("media.turn_secret_file") == true)
        #expect(error?.message.contains("short-secret") == false, "the secret is not in the message")
        let missing = #expect(throws: ConfigError.self) { try TURNCredentials.loadSecret("/nonexistent/turn.secret") }
        #expect(missing?.message.contains("media.turn_secret_file: cannot read /nonexistent/turn.secret") == true)
        var media = GiaobanConfig.Media()
        #expect(try TURNCredentials.configured(media) == nil, "no TURN URL: no secret needed")
        media.iceServers = [try ICEServerURL(parsing: "stun:stun.example.org")]
        #expect(try TURNCredentials.configured(media) == nil, "STUN only: no secret needed")
    }

    @Test("GET /api/ice-servers: STUN without credentials, TURN with a credential for the token's subject; 401 without a token")
    func route() async throws {
        let secret = "turn-shared-secret-0123456789"
        let path = try Self.secretFile(secret + "\n")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var config = GiaobanConfig()
        config.media.iceServers = try ["stun:stun.example.org:3478", "turn:turn.example:3478?transport=udp",
                                       "turns:turn.example:5349?transport=tcp"].map { text throws(ConfigError) in try ICEServerURL(parsing: text) }
        config.media.turnSecretFile = path
        config.media.turnCredentialTTLSeconds = 900
        let authority = TokenAuthority(secret: Array("0123456789abcdef0123456789abcdef".utf8))
        let now = Int64(Date().timeIntervalSince1970)
        let token = authority.issue(TokenClaims(sub: "xa-an-phu", role: .commune, exp: now + 600, iat: now))
        let app = ControlPlane.application(config: config, services: .init(sessions: nil, webRoot: nil, tokens: authority),
                                           logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/ice-servers", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/ice-servers", method: .get, headers: [.authorization: "Bearer not.a.token"]) { response in
                #expect(response.status == .unauthorized)
            }
            let before = Int64(Date().timeIntervalSince1970)
            try await client.execute(uri: "/api/ice-servers", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                let after = Int64(Date().timeIntervalSince1970)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.cacheControl] == "no-store")
                let body = jsonObject(String(buffer: response.body))
                #expect(body["ttl"] as? Int == 900)
                let servers = try #require(body["iceServers"] as? [[String: Any]])
                try #require(servers.count == 2)
                #expect(servers[0]["urls"] as? [String] == ["stun:stun.example.org:3478"])
                #expect(servers[0]["username"] == nil && servers[0]["credential"] == nil, "STUN has no credentials")
                #expect(servers[1]["urls"] as? [String] == ["turn:turn.example:3478?transport=udp", "turns:turn.example:5349?transport=tcp"])
                let username = try #require(servers[1]["username"] as? String)
                let credential = try #require(servers[1]["credential"] as? String)
                let parts = username.split(separator: ":", maxSplits: 1)
                #expect(parts.count == 2 && parts[1] == "xa-an-phu")
                let expiry = try #require(Int64(parts[0]))
                #expect(before + 900 <= expiry && expiry <= after + 900, "expiry = now + ttl")
                // What coturn computes from its static-auth-secret.
                let expected = HMACSHA1Code.authenticationCode(key: Array(secret.utf8), message: Array(username.utf8))
                #expect(Data(base64Encoded: credential).map(Array.init) == expected)
            }
        }
    }

    @Test("no servers configured: an empty list; a TURN URL whose secret file is gone: 500 naming the key")
    func emptyAndBroken() async throws {
        let authority = TokenAuthority(secret: Array("0123456789abcdef0123456789abcdef".utf8))
        let now = Int64(Date().timeIntervalSince1970)
        let headers: HTTPFields = [.authorization: "Bearer \(authority.issue(TokenClaims(sub: "xa-a", role: .commune, exp: now + 600, iat: now)))"]
        var broken = GiaobanConfig()
        broken.media.iceServers = [try ICEServerURL(parsing: "turn:turn.example:3478")]
        broken.media.turnSecretFile = "/nonexistent/turn.secret"
        for (config, status, expected) in [(GiaobanConfig(), HTTPResponse.Status.ok, "{\"iceServers\":[],\"ttl\":3600}"),
                                           (broken, .internalServerError, "media.turn_secret_file: cannot read /nonexistent/turn.secret")] {
            let app = ControlPlane.application(config: config, services: .init(sessions: nil, webRoot: nil, tokens: authority),
                                               logger: Logger(label: "test"))
            try await app.test(.router) { client in
                try await client.execute(uri: "/api/ice-servers", method: .get, headers: headers) { response in
                    #expect(response.status == status)
                    #expect(String(buffer: response.body).contains(expected), "\(String(buffer: response.body))")
                }
            }
        }
    }
}
