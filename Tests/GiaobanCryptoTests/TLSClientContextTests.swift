import Foundation
import GiaobanCrypto
import Testing

@Suite("TLS client trust settings")
struct TLSClientContextTests {
    @Test("a CA file is loaded; an unreadable or empty one is refused naming the file")
    func caFile() throws {
        let path = NSTemporaryDirectory() + "giaoban-ca-" + UUID().uuidString + ".pem"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DTLSCertificate(commonName: "giaoban.test").certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TLSClientContext(caFile: path).caFile == path)
        #expect(try TLSClientContext().caFile == nil, "the system's default CA paths")
        try "no certificate here".write(toFile: path, atomically: true, encoding: .utf8)
        for file in [path, "/nonexistent/ca.pem"] {
            let error = try #require(#expect(throws: DTLSError.self) { try TLSClientContext(caFile: file) })
            #expect(error.reason == .badPEM)
            #expect(error.message == "cannot read CA file \(file): no PEM certificate could be loaded")
        }
    }
}
