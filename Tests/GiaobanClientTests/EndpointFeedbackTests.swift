import GiaobanClient
import GiaobanCrypto
import GiaobanWire
import Testing
import GiaobanTransport

/// A publisher and a stand-in for the relay joined by pre-keyed SRTP over two UDP sockets
/// (no ICE, no DTLS, no relay), so the test controls every RTCP message the publisher gets.
private struct DirectPath {
    let publisherSide: ClientConnection
    let relaySide: ClientConnection

    init() throws {
        (publisherSide, relaySide) = try ClientConnection.preKeyedPair()
    }

    /// Runs `publisher` for `duration`; returns the video sequence numbers that reach the
    /// relay side, and the one dropped before decryption when `dropVideoPacket` (an index
    /// among the video packets seen) is set, as a lossy network would.
    func run(_ publisher: EndpointPublisher, for duration: Duration, videoSSRC: UInt32,
             dropVideoPacket: Int? = nil) throws -> (received: [UInt16], dropped: UInt16?) {
        var received: [UInt16] = []
        var dropped: UInt16?
        var videoSeen = 0
        let batch = UDPBatch(capacity: 16)
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            try publisher.step(maxWaitMilliseconds: 0)
            let n = relaySide.socket.receive(into: batch, timeoutMilliseconds: 5)
            for i in 0..<max(0, n) {
                let datagram = batch.datagram(i)
                // The RTP header stays in clear text under SRTP (RFC 3711 §3.1).
                let isRTP = datagram.count >= 12 && (128...191).contains(datagram[0]) && !(192...223).contains(datagram[1])
                let isVideo = isRTP && (8..<12).reduce(UInt32(0)) { $0 << 8 | UInt32(datagram[$1]) } == videoSSRC
                if isVideo {
                    defer { videoSeen += 1 }
                    if videoSeen == dropVideoPacket {
                        dropped = UInt16(datagram[2]) << 8 | UInt16(datagram[3])
                        continue
                    }
                }
                guard case .rtp(let length) = relaySide.peer.receive(datagram, now: .now), isVideo,
                      let packet = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: datagram[0..<length])) else { continue }
                received.append(packet.sequenceNumber)
            }
        }
        return (received, dropped)
    }

    /// Sends an RTCP compound (NACK for `lost`, then PLI) to the publisher.
    func sendFeedback(lost: [UInt16], videoSSRC: UInt32) throws {
        let nack = GenericNACKBuilder(senderSSRC: 7, mediaSSRC: videoSSRC, lost: lost)
        let pli = PictureLossIndication(senderSSRC: 7, mediaSSRC: videoSSRC)
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = try buffer.withUnsafeMutableBytes { out in
            let length = try RTCPCompound.marshal(nack, pli, into: out)
            return try relaySide.peer.protectRTCP(out, length: length)
        }
        #expect(relaySide.socket.send(Array(buffer.prefix(n)), to: relaySide.peer.relayAddress))
    }
}

@Suite("Endpoint publisher: answers NACK from its send cache and PLI with a keyframe")
struct EndpointFeedbackTests {
    @Test("a NACKed packet is sent again with its sequence number; a PLI forces a keyframe")
    func nackAndPLI() throws {
        let path = try DirectPath()
        var settings = EndpointPublisher.Settings(audioSSRC: 0x0A, videoSSRC: 0x0B)
        settings.width = 160
        settings.height = 120
        settings.framesPerSecond = 15
        let publisher = try EndpointPublisher(connection: path.publisherSide, settings: settings)
        let first = try path.run(publisher, for: .milliseconds(400), videoSSRC: 0x0B, dropVideoPacket: 1)
        let lost = try #require(first.dropped)
        #expect(first.received.count >= 2 && !first.received.contains(lost))
        let keyframesBefore = publisher.stats.keyframes
        try path.sendFeedback(lost: [lost, lost &- 1000], videoSSRC: 0x0B)
        let second = try path.run(publisher, for: .milliseconds(300), videoSSRC: 0x0B)
        #expect(second.received.contains(lost), "the NACKed packet arrives again, same sequence number")
        #expect(publisher.stats.nacked == 2)
        #expect(publisher.stats.retransmitted == 1, "the other one was never sent")
        #expect(publisher.stats.keyframesRequested == 1)
        #expect(publisher.stats.keyframes == keyframesBefore + 1)
    }
}
