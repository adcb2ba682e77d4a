import GiaobanAuth
import GiaobanHub
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanServer
import HummingbirdTesting
import Logging
import Testing

/// The control plane served over HTTPS/WSS in-process (`ControlPlane.application` with a
/// `TLSIdentity`), on a free port, with a relay for WHIP and a hub with meeting rooms; the
/// certificate is made by the openssl line of docs/deployment.md for the given names.
struct TLSServer: Sendable {
    static let authority = TokenAuthority(secret: Array("client-tls-test-secret-0123456789".utf8))
    let port: Int
    /// The certificate's PEM file: the CA file clients trust.
    let caFile: String

    /// Makes a certificate for `subjectAltName` (e.g. "DNS:localhost,IP:127.0.0.1"), serves
    /// the control plane with it, runs `body`, then stops everything.
    static func run(subjectAltName: String, _ body: @escaping @Sendable (TLSServer) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "giaoban-client-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (cert, key) = try makeCertificate(in: directory, subjectAltName: subjectAltName)
        var logger = Logger(label: "client-tls-test")
        logger.logLevel = .critical
        var config = GiaobanConfig()
        config.http.port = 0
        config.storage.sqlitePath = directory + "/giaoban.sqlite"
        config.hub.directoryFile = ""
        let media = try MediaServer(address: "127.0.0.1", port: 0, announcedAddress: "", certificate: try DTLSCertificate(), logger: logger)
        let sessions = RelaySessions(media: media, tokens: authority, maxBodyBytes: 65_536, logger: logger)
        let hub = try await Hub.open(config: config, tokens: authority, logger: logger)
        let rooms = MeetingRooms(hub: hub, sessions: sessions, logger: logger)
        let tls = try TLSIdentity(certificatePath: cert, privateKeyPath: key)
        let app = ControlPlane.application(config: config, services: .init(sessions: sessions, webRoot: nil, hub: hub, rooms: rooms),
                                           tls: tls, logger: logger)
        do {
            try await app.test(.live) { client in
                try await body(TLSServer(port: client.port ?? 0, caFile: cert))
            }
        } catch {
            await media.shutdown()
            throw error
        }
        await media.shutdown()
    }

    /// `openssl req -x509 -newkey ec … -addext subjectAltName=…` (docs/deployment.md).
    static func makeCertificate(in directory: String, subjectAltName: String) throws -> (cert: String, key: String) {
        let cert = directory + "/server.crt", key = directory + "/server.key"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                             "-days", "30", "-subj", "/CN=giaoban.test", "-addext", "subjectAltName=\(subjectAltName)",
                             "-keyout", key, "-out", cert]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl made the test certificate")
        return (cert, key)
    }

    static func token(_ role: Role, _ subject: String) -> String {
        let now = Int64(Date().timeIntervalSince1970)
        return authority.issue(TokenClaims(sub: subject, role: role, exp: now + 600, iat: now - 10))
    }
}

/// Runs blocking client I/O on its own thread, off the cooperative pool the server shares.
func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

@Suite("Client over HTTPS and WSS: WHIP through the TLS client, the room socket over wss://")
struct ClientTLSTests {
    @Test("WHIP over https:// with the CA file: by IP address and by name; without it or for another host (the room socket too): refused with the reason",
          .timeLimit(.minutes(1)))
    func whipOverHTTPS() async throws {
        try await TLSServer.run(subjectAltName: "DNS:localhost,IP:127.0.0.1") { server in
            let offer = try ClientOffer(mode: .publish(audioSSRC: 1, videoSSRC: 2), ice: .random(),
                                        fingerprint: DTLSCertificate().fingerprint, host: "127.0.0.1", port: 6000)
            let token = TLSServer.token(.chair, "officer")
            for base in ["https://127.0.0.1:\(server.port)", "https://localhost:\(server.port)"] {
                let whip = try WHIPClient(baseURL: base, token: token, caFile: server.caFile)
                let stream = base.contains("localhost") ? "by-name" : "by-address"
                let session = try await offThread { try whip.publish(stream: stream, offer: offer.sdp) }
                #expect(session.location.hasPrefix("/whip/\(stream)/"), "\(session.location)")
                try await offThread { try whip.end(session) }
            }
            // The system's CAs do not know the self-signed certificate.
            let untrusted = try WHIPClient(baseURL: "https://127.0.0.1:\(server.port)", token: token)
            let error = try #require(await #expect(throws: ClientError.self) {
                try await offThread { try untrusted.publish(stream: "x", offer: offer.sdp) }
            })
            #expect(error.reason == .tls)
            #expect(error.message.hasPrefix("certificate verify failed: self"), "\(error.message)")
            // Plain HTTP to the TLS port gets no HTTP answer.
            var plain = try HTTPClient(baseURL: "http://127.0.0.1:\(server.port)")
            plain.timeout = .seconds(3)
            #expect(throws: ClientError.self) { try plain.request("GET", "/healthz") }
        }
        try await TLSServer.run(subjectAltName: "DNS:elsewhere.test") { server in
            for (host, reason) in [("127.0.0.1", "IP address mismatch"), ("localhost", "hostname mismatch")] {
                let client = try HTTPClient(baseURL: "https://\(host):\(server.port)", caFile: server.caFile)
                let error = try #require(await #expect(throws: ClientError.self) {
                    try await offThread { try client.request("GET", "/healthz") }
                })
                #expect(error.reason == .tls)
                #expect(error.message == "certificate verify failed: \(reason) (\(host):\(server.port))")
            }
            // The room socket checks the address too (the certificate names another host).
            var logger = Logger(label: "client-tls-test")
            logger.logLevel = .critical
            let room = RoomClient(server: "https://127.0.0.1:\(server.port)", meeting: 1, token: TLSServer.token(.chair, "officer"),
                                  maxReconnects: 0, caFile: server.caFile, logger: logger)
            room.start()
            await room.finished()
            #expect(room.view.joins == 0)
            #expect(room.view.ended?.contains("ailedToValidateHostname") == true, "\(room.view.ended ?? "")")
        }
    }

    @Test("https:// to a plain-HTTP port fails the handshake with OpenSSL's reason", .timeLimit(.minutes(1)))
    func httpsToPlainPort() async throws {
        // A plain HTTP server answers the ClientHello as a malformed request.
        let server = try CannedHTTPServer(response: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                                          replyAtFirstRead: true)
        let port = server.port
        let client = try HTTPClient(baseURL: "https://127.0.0.1:\(port)")
        let error = try #require(await #expect(throws: ClientError.self) {
            try await offThread { try client.request("GET", "/healthz") }
        })
        #expect(error.reason == .tls)
        #expect(error.message.hasPrefix("TLS handshake with 127.0.0.1:\(port) failed: "), "\(error.message)")
        #expect(error.message.contains("wrong version number"), "\(error.message)")
    }

    @Test("an https:// URL with an unreadable CA file, or another scheme, is refused before connecting")
    func badSettings() throws {
        let missing = try #require(#expect(throws: ClientError.self) {
            try HTTPClient(baseURL: "https://127.0.0.1:8443", caFile: "/nonexistent/ca.pem")
        })
        #expect(missing.reason == .tls && missing.message.contains("/nonexistent/ca.pem"), "\(missing)")
        #expect(throws: ClientError.self) { try HTTPClient(baseURL: "ftp://127.0.0.1") }
        #expect(throws: ClientError.self) { try HTTPClient(baseURL: "https://bad_name:8443") }
        let named = try HTTPClient(baseURL: "https://relay.example.org/api")
        #expect(named.host == "relay.example.org" && named.port == 443)
    }

    @Test("a room client joins over wss:// trusting the CA file; without it the socket is refused", .timeLimit(.minutes(1)))
    func roomOverWSS() async throws {
        try await TLSServer.run(subjectAltName: "DNS:localhost,IP:127.0.0.1") { server in
            let token = TLSServer.token(.chair, "officer")
            let api = try HTTPClient(baseURL: "https://127.0.0.1:\(server.port)", caFile: server.caFile)
            let body = Array(#"{"title": "Giao ban", "scheduled_at": "2026-11-30T07:30:00+07:00", "duration_minutes": 60}"#.utf8)
            let created = try await offThread {
                try api.request("POST", "/api/meetings", headers: [("Authorization", "Bearer \(token)"),
                                                                   ("Content-Type", "application/json")], body: body)
            }
            #expect(created.status == 201, "\(created.text)")
            let object = try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any]
            let meeting = try #require((object?["id"] as? NSNumber)?.int64Value)
            var logger = Logger(label: "client-tls-test")
            logger.logLevel = .critical
            for base in ["https://127.0.0.1:\(server.port)", "https://localhost:\(server.port)"] {
                let room = RoomClient(server: base, meeting: meeting, token: token, caFile: server.caFile, logger: logger)
                #expect(room.url.hasPrefix("wss://"))
                room.start()
                let deadline = ContinuousClock.now + .seconds(15)
                while room.view.joins == 0 && room.view.ended == nil && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(room.view.joins == 1, "joined over \(base): \(room.view.ended ?? "no answer")")
                #expect(room.view.role == "chair")
                room.leave()
                await room.finished()
            }
            let untrusted = RoomClient(server: "https://127.0.0.1:\(server.port)", meeting: meeting, token: token, maxReconnects: 0,
                                       logger: logger)
            untrusted.start()
            await untrusted.finished()
            #expect(untrusted.view.joins == 0)
            #expect(untrusted.view.ended?.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(untrusted.view.ended ?? "")")
        }
    }
}
