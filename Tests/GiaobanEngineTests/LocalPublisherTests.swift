import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Synchronization
import Testing

/// A local publisher (a camera, a trunk from a parent relay) hands the router its packets:
/// RTP is forwarded, and a sender report reaches the stream's report sinks as a remote
/// publisher's would.
@Suite("Local publishers: RTP and RTCP handed in")
struct LocalPublisherTests {
    final class Reports: AudioSink, SenderReportSink, Sendable {
        let got = Mutex<[String]>([])
        let packets = Atomic<Int>(0)
        func push(source: String, sequence: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, level: AudioLevelExtension?) {
            packets.add(1, ordering: .relaxed)
        }
        func senderReport(source: String, video: Bool, ntp: UInt64, rtp: UInt32) {
            got.withLock { $0.append("\(source) video=\(video) ntp=\(ntp >> 32) rtp=\(rtp)") }
        }
    }

    static func bytes(_ marshal: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1500)
        let n = try buffer.withUnsafeMutableBytes { slot throws(WireError) in try marshal(slot) }
        return Array(buffer.prefix(n))
    }

    @Test("a sender report injected for a local publisher reaches the sinks; for another peer it is ignored")
    func senderReports() throws {
        let now = ContinuousClock.now
        let router = MediaRouter(settings: .init(), dtlsContext: try DTLSContext(certificate: DTLSCertificate()), now: now)
        let out = OutputQueue()
        let setup = PeerSetup.localPublisher(id: "trunk-s", stream: "s",
                                             audio: PeerSetup.Track(kind: .audio, payloadType: 111, codec: "opus", clockRate: 48_000, ssrc: 0),
                                             video: nil)
        #expect(router.apply(.addPeer(setup), now: now, out: out) == nil)
        let sink = Reports()
        _ = router.apply(.addSinks(streams: ["s"], audio: sink, video: nil), now: now, out: out)
        let rtp = try Self.bytes { slot throws(WireError) in
            try RTPPacketBuilder(payloadType: 111, sequenceNumber: 7, timestamp: 960, ssrc: 0x1234, payload: [0xF8, 1, 2]).marshal(into: slot)
        }
        rtp.withUnsafeBytes { router.injectRTP($0, peer: "trunk-s", now: now, out: out) }
        #expect(sink.packets.load(ordering: .relaxed) == 1)
        let sr = SenderReportBuilder(ssrc: 0x1234, ntpTimestamp: 42 << 32, rtpTimestamp: 960, packetCount: 1, octetCount: 3)
        let compound = try Self.bytes { slot throws(WireError) in try RTCPCompound.marshal(sr, into: slot) }
        compound.withUnsafeBytes { router.injectRTCP($0, peer: "nobody", now: now, out: out) }
        #expect(sink.got.withLock { $0 }.isEmpty, "no such local publisher: ignored")
        compound.withUnsafeBytes { router.injectRTCP($0, peer: "trunk-s", now: now, out: out) }
        #expect(sink.got.withLock { $0 } == ["s video=false ntp=42 rtp=960"])
    }
}
