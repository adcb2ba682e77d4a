import Foundation
import GiaobanCrypto
import Testing

/// scrypt against RFC 7914 §12, and the stored form: round trip, wrong password, malformed input.
@Suite("Password hash")
struct PasswordHashTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("RFC 7914 §12: N = 16 with empty password and salt, N = 1024 with p = 16")
    func vectors() throws {
        let first = try PasswordHash.derive(password: [], salt: [], n: 16, r: 1, p: 1, length: 64)
        #expect(Self.hex(first) == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                + "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
        let second = try PasswordHash.derive(password: Array("password".utf8), salt: Array("NaCl".utf8), n: 1024, r: 8, p: 16, length: 64)
        #expect(Self.hex(second) == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test("RFC 7914 §12: N = 16384, r = 8, p = 1, checked through the stored form")
    func storedVector() throws {
        let key = try PasswordHash.derive(password: Array("pleaseletmein".utf8), salt: Array("SodiumChloride".utf8),
                                          n: 16384, r: 8, p: 1, length: 64)
        #expect(Self.hex(key).hasPrefix("7023bdcb3afd7348461c06cd81fd38eb"))
        let encoded = "scrypt$16384$8$1$\(Data("SodiumChloride".utf8).base64EncodedString())$\(Data(key).base64EncodedString())"
        #expect(PasswordHash.verify("pleaseletmein", encoded: encoded))
        #expect(!PasswordHash.verify("pleaseletmeiN", encoded: encoded))
    }

    @Test("a new hash has the default parameters, a fresh salt, and matches only its password")
    func roundTrip() throws {
        let hash = try PasswordHash.make(password: "mật khẩu đúng")
        let parts = hash.encoded.split(separator: "$")
        #expect(parts.count == 6 && parts[0] == "scrypt" && parts[1] == "32768" && parts[2] == "8" && parts[3] == "1")
        #expect(hash.salt.count == 16 && hash.key.count == 32)
        #expect(try PasswordHash(encoded: hash.encoded) == hash)
        #expect(PasswordHash.verify("mật khẩu đúng", encoded: hash.encoded))
        #expect(!PasswordHash.verify("mật khẩu sai", encoded: hash.encoded))
        #expect(!PasswordHash.verify("", encoded: hash.encoded))
        #expect(try PasswordHash.make(password: "mật khẩu đúng").salt != hash.salt)
    }

    @Test("malformed stored forms are refused, never matched", arguments: [
        "", "scrypt", "bcrypt$16$1$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==", "scrypt$15$1$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$16$0$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==", "scrypt$4294967296$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$16$1$1$!!!$AAAAAAAAAAAAAAAAAAAAAA==", "scrypt$16$1$1$AAAA$AAAA", "scrypt$16$1$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==$x",
    ])
    func malformed(_ encoded: String) {
        #expect(throws: PasswordHashError(.malformed)) { try PasswordHash(encoded: encoded) }
        #expect(!PasswordHash.verify("", encoded: encoded))
    }
}
