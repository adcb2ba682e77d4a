@testable import GiaobanServer
import Foundation
import Testing
import GiaobanAuth

@Suite("Tokens (JWT HS256)")
struct TokenTests {
    let authority = TokenAuthority(secret: Array("0123456789abcdef0123456789abcdef".utf8))

    @Test("issue then verify returns the claims", arguments: Role.allCases)
    func roundTrip(role: Role) throws {
        let claims = TokenClaims(sub: "xa-\(role.rawValue)", role: role, exp: 2_000, iat: 1_000)
        let token = authority.issue(claims)
        #expect(token.split(separator: ".").count == 3)
        #expect(try authority.verify(token, now: 1_500) == claims)
    }

    @Test("the RFC 7515 §A.1 shape: the header decodes to HS256")
    func header() throws {
        let token = authority.issue(TokenClaims(sub: "a", role: .chair, exp: 10, iat: 0))
        let header = try #require(Base64URL.decode(token.split(separator: ".")[0]))
        #expect(String(decoding: header, as: UTF8.self) == #"{"alg":"HS256","typ":"JWT"}"#)
    }

    @Test("expired, tampered, foreign, malformed and alg=none tokens are refused with a reason")
    func refusals() throws {
        let token = authority.issue(TokenClaims(sub: "c1", role: .commune, exp: 100, iat: 0))
        #expect(throws: TokenError("token expired")) { try authority.verify(token, now: 101) }
        #expect(try authority.verify(token, now: 100).sub == "c1", "valid up to and including exp")

        var parts = token.split(separator: ".").map(String.init)
        let forged = Base64URL.encode(Array(#"{"exp":100,"iat":0,"role":"chair","sub":"c1"}"#.utf8))
        #expect(throws: TokenError("invalid token signature")) { try authority.verify([parts[0], forged, parts[2]].joined(separator: "."), now: 50) }

        let other = TokenAuthority(secret: Array("another-secret-another-secret!!!".utf8))
        #expect(throws: TokenError("invalid token signature")) { try other.verify(token, now: 50) }

        parts[0] = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let none = try #require(#expect(throws: TokenError.self) { try authority.verify(parts.joined(separator: "."), now: 50) })
        #expect(none.message.contains("unsupported token algorithm 'none'"))

        for junk in ["", "a.b", "a.b.c.d", "!!!.###.$$$"] {
            #expect(throws: TokenError.self) { try authority.verify(junk, now: 0) }
        }
    }

    @Test("an unknown role in a correctly signed token is refused")
    func unknownRole() throws {
        let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = Base64URL.encode(Array(#"{"exp":100,"iat":0,"role":"mayor","sub":"x"}"#.utf8))
        let signature = Base64URL.encode(authority.signature(of: header + "." + payload))
        let error = #expect(throws: TokenError.self) { try authority.verify("\(header).\(payload).\(signature)", now: 0) }
        #expect(error?.message.contains("malformed token claims") == true)
    }

    @Test("the secret file is created once, private, and reused")
    func secretFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("nested/token.secret").path
        let first = try TokenAuthority.loadOrCreateSecret(at: path)
        #expect(first.created)
        #expect(first.secret.count == 64)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let second = try TokenAuthority.loadOrCreateSecret(at: path)
        #expect(!second.created)
        #expect(second.secret == first.secret)
    }
}
