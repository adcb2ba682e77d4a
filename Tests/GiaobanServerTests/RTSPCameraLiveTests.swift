import Foundation
import GiaobanServer
import Logging
import Testing

/// A camera session against a real RTSP server (GStreamer's gst-rtsp-server, x264):
/// online, H.264 RTP with keyframes over TCP interleaved and over UDP, Digest and Basic
/// authentication, and recovery after the server is killed and restarted.
@Suite("RTSP camera session: live against gst-rtsp-server", .serialized)
struct RTSPCameraLiveTests {
    func run(
        _ server: GStreamerRTSPServer, transport: RTSPCameraSession.Transport, user: String? = nil, password: String? = nil,
        body: (RTSPCameraSession, CameraLog) -> Void
    ) {
        if let missing = GStreamerRTSPServer.missingDependency { Issue.record("\(missing)"); return }
        guard server.start() else { Issue.record("rtsp_server.py did not start"); return }
        defer { server.stop() }
        let log = CameraLog()
        let session = RTSPCameraSession(
            configuration: .init(url: "rtsp://127.0.0.1:\(server.port)/camera", username: user, password: password,
                                 transport: transport, timeout: .seconds(3), mediaTimeout: .seconds(4),
                                 backoff: CameraBackoff(initial: .milliseconds(500), maximum: .seconds(2))),
            logger: Logger(label: "camera-live"), onState: log.state, onPacket: log.packet)
        session.start()
        body(session, log)
        #expect(session.stop())
    }

    @Test("online and H.264 keyframes", arguments: [RTSPCameraSession.Transport.tcpInterleaved, .udp])
    func streams(transport: RTSPCameraSession.Transport) {
        run(GStreamerRTSPServer(), transport: transport) { session, log in
            #expect(log.wait(seconds: 15) { $0.keyframes >= 1 && $0.packetCount >= 20 },
                    "packets \(log.packetCount), keyframes \(log.keyframes), states \(log.snapshot)")
            #expect(log.snapshot.prefix(2) == [.connecting, .online])
            #expect(session.packetsReceived >= log.packetCount)
        }
    }

    @Test("authentication: Digest and Basic with the right password; the wrong one is rejected",
          arguments: ["digest", "basic"])
    func authentication(method: String) {
        run(GStreamerRTSPServer(credentials: ["operator", "s3cret", method]), transport: .tcpInterleaved,
            user: "operator", password: "s3cret") { _, log in
            #expect(log.wait(seconds: 15) { $0.keyframes >= 1 }, "states \(log.snapshot)")
        }
        run(GStreamerRTSPServer(credentials: ["operator", "s3cret", method]), transport: .tcpInterleaved,
            user: "operator", password: "wrong") { _, log in
            #expect(log.wait(seconds: 15) { !$0.offlineReasons.isEmpty }, "states \(log.snapshot)")
            #expect(log.offlineReasons.first?.contains("credentials rejected") == true, "\(log.offlineReasons)")
            #expect(log.packetCount == 0)
        }
    }

    @Test("the server killed and restarted: offline, then online again on its own", arguments: [
        RTSPCameraSession.Transport.tcpInterleaved, .udp,
    ])
    func restart(transport: RTSPCameraSession.Transport) {
        let server = GStreamerRTSPServer()
        run(server, transport: transport) { _, log in
            guard log.wait(seconds: 15, until: { $0.keyframes >= 1 }) else {
                Issue.record("never online: \(log.snapshot)")
                return
            }
            server.kill9()
            #expect(log.wait(seconds: 10) { !$0.offlineReasons.isEmpty }, "states \(log.snapshot)")
            let before = log.packetCount
            let keyframesBefore = log.keyframes
            guard server.start() else { Issue.record("the server did not restart"); return }
            #expect(log.wait(seconds: 10) { $0.snapshot.last == .online && $0.keyframes > keyframesBefore },
                    "states \(log.snapshot)")
            #expect(log.packetCount > before)
        }
    }
}
