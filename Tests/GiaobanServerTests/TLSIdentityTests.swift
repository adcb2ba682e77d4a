import Foundation
import GiaobanCrypto
@testable import GiaobanServer
import Testing

@Suite("HTTPS settings and the TLS identity")
struct TLSIdentityTests {
    /// A fresh directory with a certificate and key in PEM (ECDSA P-256, self-signed).
    static func pair(in directory: String, name: String) throws -> (cert: String, key: String) {
        let identity = try DTLSCertificate(commonName: "giaoban.test")
        let cert = directory + "/\(name).crt", key = directory + "/\(name).key"
        try identity.certificatePEM.write(toFile: cert, atomically: true, encoding: .utf8)
        try identity.privateKeyPEM.write(toFile: key, atomically: true, encoding: .utf8)
        return (cert, key)
    }

    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "giaoban-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a certificate without its key (or the reverse) is refused with both key names")
    func pairRequired() throws {
        let error = try #require(#expect(throws: ConfigError.self) {
            try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_HTTP_TLS_CERTIFICATE": "/etc/giaoban/cert.pem"])
        })
        #expect(error.message.contains("http.tls_certificate and http.tls_private_key go together"), "\(error.message)")
        let both = try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_HTTP_TLS_CERTIFICATE": "c.pem",
                                                                  "GIAOBAN_HTTP_TLS_PRIVATE_KEY": "k.pem"])
        #expect(both.http.usesTLS)
        #expect(both.http.hstsMaxAgeS == 31_536_000)
        #expect(!(try GiaobanConfig.load(path: nil, environment: [:])).http.usesTLS, "plain HTTP by default")
        // The endpoint client's CA file may sit in the same environment: not a server setting.
        _ = try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_CA_FILE": "/etc/giaoban/ca.pem"])
    }

    @Test("unreadable files are refused naming the key and the file")
    func badFiles() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try Self.pair(in: dir, name: "a")
        let missing = try #require(#expect(throws: TLSIdentity.LoadError.self) {
            try TLSIdentity(certificatePath: dir + "/none.crt", privateKeyPath: key)
        })
        #expect(missing.description.hasPrefix("http.tls_certificate \(dir)/none.crt"), "\(missing)")
        try "not a key".write(toFile: dir + "/bad.key", atomically: true, encoding: .utf8)
        let bad = try #require(#expect(throws: TLSIdentity.LoadError.self) {
            try TLSIdentity(certificatePath: cert, privateKeyPath: dir + "/bad.key")
        })
        #expect(bad.description.hasPrefix("http.tls_private_key"), "\(bad)")
        let (_, otherKey) = try Self.pair(in: dir, name: "b")
        let mismatch = try #require(#expect(throws: TLSIdentity.LoadError.self) {
            try TLSIdentity(certificatePath: cert, privateKeyPath: otherKey)
        })
        #expect(mismatch.description.contains("unusable together"), "\(mismatch)")
    }

    @Test("reload takes new files; a broken reload keeps the certificate in use")
    func reload() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try Self.pair(in: dir, name: "live")
        let identity = try TLSIdentity(certificatePath: cert, privateKeyPath: key)
        let first = identity.current
        _ = try Self.pair(in: dir, name: "live")  // renewed in place
        try identity.reload()
        let second = identity.current
        #expect(second !== first)
        try "".write(toFile: key, atomically: true, encoding: .utf8)
        #expect(throws: TLSIdentity.LoadError.self) { try identity.reload() }
        #expect(identity.current === second)
    }
}
