import Foundation
import GiaobanServer
import Logging
import Synchronization
import Testing

/// A camera session against small scripted RTSP servers: a 401 loop, garbage, an SDP
/// without H.264, no server at all. Each ends in a clear `offline` reason and a retry.
@Suite("RTSP camera session: bad servers", .serialized)
struct RTSPCameraSessionTests {
    static let fastBackoff = CameraBackoff(initial: .milliseconds(100), maximum: .milliseconds(400))

    func session(port: UInt16, user: String? = nil, log: CameraLog) -> RTSPCameraSession {
        RTSPCameraSession(
            configuration: .init(url: "rtsp://127.0.0.1:\(port)/camera", username: user, password: user.map { _ in "secret" },
                                 timeout: .seconds(2), backoff: Self.fastBackoff),
            logger: Logger(label: "camera-test"), onState: log.state, onPacket: log.packet)
    }

    /// Runs a session against `port` until it has gone offline `count` times (at most 10 s), stops it.
    func failures(port: UInt16, user: String? = nil, count: Int = 1) -> CameraLog {
        let log = CameraLog()
        let s = session(port: port, user: user, log: log)
        s.start()
        _ = log.wait(seconds: 10) { $0.offlineReasons.count >= count }
        #expect(s.stop())
        return log
    }

    static func reply(_ cseq: Int, _ status: String, _ headers: [String] = [], body: String = "") -> [UInt8] {
        var text = "RTSP/1.0 \(status)\r\nCSeq: \(cseq)\r\n"
        for h in headers { text += h + "\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.utf8.count)\r\n" }
        return Array((text + "\r\n" + body).utf8)
    }

    @Test("backoff: 1 s doubling to 30 s, reset after a success")
    func backoff() {
        var b = CameraBackoff()
        #expect((0..<7).map { _ in b.next() } == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        b.reset()
        #expect(b.next() == .seconds(1))
    }

    @Test("a 401 loop (a fresh nonce every time) ends with 'credentials rejected' after one retry")
    func unauthorizedLoop() {
        let counter = Mutex<Int>(0)
        let server = FakeRTSPServer { _, cseq in
            let n = counter.withLock { $0 += 1; return $0 }
            return Self.reply(cseq, "401 Unauthorized", ["WWW-Authenticate: Digest realm=\"cam\", nonce=\"n\(n)\""])
        }
        defer { server.stop() }
        let log = failures(port: server.port, user: "admin", count: 2)
        #expect(log.offlineReasons.count >= 2, "retried after the failure")
        #expect(log.offlineReasons.first == "OPTIONS answered 401 again: credentials rejected")
        // Per connection: the request, then one answer to the challenge.
        #expect(server.methods.prefix(2) == ["OPTIONS", "OPTIONS"])
        #expect(server.requests.withLock { $0[1].contains("Authorization: Digest username=\"admin\"") })
        #expect(!server.requests.withLock { $0.joined() }.contains("secret"))
    }

    @Test("a 401 without credentials configured is reported as such")
    func noCredentials() {
        let server = FakeRTSPServer { _, cseq in Self.reply(cseq, "401 Unauthorized", ["WWW-Authenticate: Basic realm=\"c\""]) }
        defer { server.stop() }
        let log = failures(port: server.port)
        #expect(log.offlineReasons.first == "OPTIONS needs credentials (401) and none are configured")
    }

    @Test("garbage instead of RTSP: offline with the parse error, then a retry")
    func garbage() {
        let server = FakeRTSPServer { _, _ in Array("\u{0}\u{1}\u{2} SSH-2.0-OpenSSH\r\n\r\n".utf8) }
        defer { server.stop() }
        let log = failures(port: server.port, count: 2)
        #expect(log.offlineReasons.count >= 2, "retried after the failure")
        #expect(log.offlineReasons.first == "malformed RTSP from the camera: RTSP start line: syntax")
        #expect(log.snapshot.first == .connecting)
    }

    @Test("an SDP without H.264: offline 'no H.264 video', no SETUP sent")
    func noH264() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=control:v\r\n"
        let server = FakeRTSPServer { request, cseq in
            request.hasPrefix("DESCRIBE")
                ? Self.reply(cseq, "200 OK", ["Content-Type: application/sdp"], body: sdp)
                : Self.reply(cseq, "200 OK", ["Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"])
        }
        defer { server.stop() }
        let log = failures(port: server.port)
        #expect(log.offlineReasons.first == "the camera offers no H.264 video")
        #expect(!server.methods.contains("SETUP"))
    }

    @Test("a server that never answers: offline after the timeout")
    func silent() {
        let server = FakeRTSPServer { _, _ in [] }
        defer { server.stop() }
        let log = failures(port: server.port)
        #expect(log.offlineReasons.first?.hasPrefix("no answer to OPTIONS within") == true)
    }

    @Test("nothing listening: offline with the connect error")
    func refused() {
        let server = FakeRTSPServer { _, _ in nil }
        let port = server.port
        server.stop()
        let log = failures(port: port)
        #expect(log.offlineReasons.first?.hasPrefix("cannot connect to 127.0.0.1:\(port)") == true)
    }

    @Test("keep-alive at half the session timeout with the Session id; TEARDOWN on stop")
    func keepAliveAndTeardown() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:v\r\n"
        let server = FakeRTSPServer { request, cseq in
            if request.hasPrefix("DESCRIBE") { return Self.reply(cseq, "200 OK", ["Content-Base: rtsp://127.0.0.1/camera/"], body: sdp) }
            if request.hasPrefix("SETUP") {
                return Self.reply(cseq, "200 OK", ["Session: abc;timeout=2", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
            }
            return Self.reply(cseq, "200 OK", ["Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN"])
        }
        defer { server.stop() }
        let log = CameraLog()
        let s = session(port: server.port, log: log)
        s.start()
        let kept = log.wait(seconds: 5) { _ in server.methods.contains("GET_PARAMETER") }
        #expect(s.stop())
        #expect(kept)
        #expect(server.methods.prefix(4) == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"])
        #expect(server.methods.last == "TEARDOWN")
        let requests = server.requests.withLock { $0 }
        #expect(requests[2].hasPrefix("SETUP rtsp://127.0.0.1/camera/v RTSP/1.0"))
        #expect(requests.last?.contains("Session: abc\r\n") == true)
        #expect(log.snapshot == [.connecting, .online])
    }
}
