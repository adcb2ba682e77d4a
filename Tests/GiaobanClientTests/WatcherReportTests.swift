import GiaobanClient
import GiaobanCodecs
import GiaobanWire
import Testing
import GiaobanTransport

/// A watcher fed by a stand-in relay over pre-keyed SRTP: the test sends the media and the
/// sender report, and reads back every RTCP packet the watcher sends.
private final class StandInRelay {
    let watcherSide: ClientConnection
    let relaySide: ClientConnection
    private var buffer = [UInt8](repeating: 0, count: 1600)
    private let batch = UDPBatch(capacity: 16)

    init() throws { (watcherSide, relaySide) = try ClientConnection.preKeyedPair() }

    func sendRTP(pt: UInt8, seq: UInt16, timestamp: UInt32, ssrc: UInt32, marker: Bool = false, payload: [UInt8]) throws {
        let header = RTPPacketBuilder(payloadType: pt, sequenceNumber: seq, timestamp: timestamp, ssrc: ssrc, marker: marker)
        let n = try buffer.withUnsafeMutableBytes { out in
            let length = try payload.withUnsafeBytes { try header.marshal(payload: $0, into: out) }
            return try relaySide.peer.protectRTP(out, length: length)
        }
        #expect(relaySide.socket.send(Array(buffer.prefix(n)), to: relaySide.peer.relayAddress))
    }

    func sendSR(ssrc: UInt32, ntp: UInt64) throws {
        let sr = SenderReportBuilder(ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: 0, packetCount: 1, octetCount: 1)
        let n = try buffer.withUnsafeMutableBytes { out in
            try relaySide.peer.protectRTCP(out, length: try RTCPCompound.marshal(sr, into: out))
        }
        #expect(relaySide.socket.send(Array(buffer.prefix(n)), to: relaySide.peer.relayAddress))
    }

    /// The RTCP packets the watcher sent since the last call, each as its own bytes.
    func receivedRTCP() -> [[UInt8]] {
        var packets: [[UInt8]] = []
        let n = relaySide.socket.receive(into: batch, timeoutMilliseconds: 0)
        for i in 0..<max(0, n) {
            let datagram = batch.datagram(i)
            guard case .rtcp(let length) = relaySide.peer.receive(datagram, now: .now),
                  let compound = try? RTCPCompound(UnsafeRawBufferPointer(rebasing: datagram[0..<length])) else { continue }
            for packet in compound { packets.append(Array(packet.bytes)) }
        }
        return packets
    }
}

@Suite("Watcher feedback: receiver reports, NACK for missing video, Opus FEC through the jitter buffer")
struct WatcherReportTests {
    @Test("the RR reports loss, highest sequence and LSR/DLSR; the NACK lists exactly the missing packets")
    func receiverReportAndNACK() throws {
        let relay = try StandInRelay()
        let watcher = try EndpointWatcher(connection: relay.watcherSide, audioPayloadType: 111, videoPayloadType: 96,
                                          videoDelay: .milliseconds(100))
        let ntp: UInt64 = 0xE000_0000_1234_5678
        try relay.sendSR(ssrc: 0xBEEF, ntp: ntp)
        var rtcp: [[UInt8]] = []
        for seq in UInt16(100)..<120 where seq != 105 && seq != 106 {
            // S=1 VP8 descriptor, one packet per frame, a delta frame: content does not matter here.
            try relay.sendRTP(pt: 96, seq: seq, timestamp: UInt32(seq) * 3000, ssrc: 0xBEEF, marker: true, payload: [0x10, 0x01, 0, 0])
            watcher.step(maxWaitMilliseconds: 2)
            rtcp += relay.receivedRTCP()
        }
        let deadline = ContinuousClock.now + .milliseconds(800)
        while ContinuousClock.now < deadline {
            watcher.step(maxWaitMilliseconds: 5)
            rtcp += relay.receivedRTCP()
        }
        let nacks = rtcp.compactMap { bytes in bytes.withUnsafeBytes { try? GenericNACK($0) }.map { _ in bytes } }
        let firstNACK = try #require(nacks.first)
        let lost = firstNACK.withUnsafeBytes { raw -> [UInt16] in
            var out: [UInt16] = []
            try? GenericNACK(raw).forEachLost { out.append($0) }
            return out
        }
        #expect(lost == [105, 106])
        #expect(firstNACK.withUnsafeBytes { (try? GenericNACK($0))?.mediaSSRC } == 0xBEEF)
        #expect(nacks.count == 3, "asked three times (the default), then given up: \(watcher.stats)")
        #expect(watcher.stats.nacksGivenUp == 2 && watcher.stats.videoLost == 2)

        let blocks = rtcp.flatMap { bytes in bytes.withUnsafeBytes { raw in (try? ReceiverReport(raw)).map { Array($0.reports) } ?? [] } }
        let block = try #require(blocks.first { $0.ssrc == 0xBEEF })
        #expect(block.extendedHighestSequence == 119)
        #expect(block.cumulativeLost == 2)
        #expect(block.fractionLost == 25, "2 of 20 = 25/256")
        #expect(block.lastSenderReport == RoundTripTime.compact(ntp))
        #expect(block.delaySinceLastSenderReport > 0)
        #expect(watcher.stats.reportsSent >= 1)
    }

    @Test("a lost Opus packet is rebuilt from the next packet's FEC; two in a row: the first is concealed")
    func audioFEC() throws {
        let relay = try StandInRelay()
        let watcher = try EndpointWatcher(connection: relay.watcherSide, audioPayloadType: 111, videoPayloadType: 96,
                                          audioDelay: .milliseconds(40))
        let encoder = try OpusAudioEncoder(channels: 1, application: .voip, bitrate: 24_000, fec: true, expectedLossPercent: 20)
        var tone = ToneGenerator(frequency: 440)
        for seq in UInt16(0)..<30 {
            let packet = try encoder.encode(tone.nextFrame())
            if seq == 10 || seq == 20 || seq == 21 { continue }
            try relay.sendRTP(pt: 111, seq: seq, timestamp: UInt32(seq) * 960, ssrc: 0xA0D1, payload: packet)
            watcher.step(maxWaitMilliseconds: 1)
        }
        let deadline = ContinuousClock.now + .milliseconds(300)
        while ContinuousClock.now < deadline { watcher.step(maxWaitMilliseconds: 5) }
        let s = watcher.stats
        #expect(s.audioFrames == 27)
        #expect(s.audioLost == 3 && s.audioConcealed == 3)
        #expect(s.audioRecoveredByFEC == 2, "10 from 11, 21 from 22; 20 concealed: \(s)")
        #expect(s.decodeErrors == 0)
    }
}
