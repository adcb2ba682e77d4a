import GiaobanCrypto
import Testing

@Suite("DTLS certificate and fingerprint")
struct DTLSCertificateTests {
    @Test("a generated certificate has a SHA-256 fingerprint and survives a PEM round trip")
    func generateAndReload() throws {
        let cert = try DTLSCertificate()
        #expect(cert.fingerprint.algorithm == "sha-256")
        #expect(cert.fingerprint.digest.count == 32)
        #expect(cert.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(cert.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let reloaded = try DTLSCertificate(certificatePEM: cert.certificatePEM, privateKeyPEM: cert.privateKeyPEM)
        #expect(reloaded.fingerprint == cert.fingerprint)
        #expect(try DTLSCertificate().fingerprint != cert.fingerprint, "two generated keys differ")
    }

    @Test("a key that does not match the certificate is refused")
    func mismatch() throws {
        let a = try DTLSCertificate(), b = try DTLSCertificate()
        let error = #expect(throws: DTLSError.self) {
            try DTLSCertificate(certificatePEM: a.certificatePEM, privateKeyPEM: b.privateKeyPEM)
        }
        #expect(error?.reason == .keyMismatch)
        #expect((#expect(throws: DTLSError.self) { try DTLSCertificate(certificatePEM: "junk", privateKeyPEM: "junk") })?.reason == .badPEM)
    }

    @Test("fingerprint text round trip and malformed values", arguments: [
        "sha-256", "sha-256 ZZ:00", "sha-256 0:11", "sha-256 ", "sha-256 AB:CD extra",
    ])
    func fingerprintText(bad: String) throws {
        let good = "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3E:4B:65:A7:B2:60:2E:B5:5D:32:52:02"
        #expect(try CertificateFingerprint(sdpValue: good).sdpValue == good)
        #expect(try CertificateFingerprint(sdpValue: good.lowercased()).sdpValue == good)
        #expect(throws: DTLSError.self) { try CertificateFingerprint(sdpValue: bad) }
    }
}
