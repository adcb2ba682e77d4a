import GiaobanClient
import GiaobanCodecs
import GiaobanWire
import Testing
import GiaobanRTP

/// One RTP packet as the tests hand it to the assembler.
private struct TestPacket {
    var sequenceNumber: UInt16
    var timestamp: UInt32
    var marker: Bool
    var payload: [UInt8]
}

/// Packetizes encoded frames into RTP-like packets with consecutive sequence numbers.
private func packets(for frames: [EncodedVideoFrame], packetizer: inout VP8Packetizer,
                     firstSequence: UInt16 = 65_530) -> [TestPacket] {
    var out: [TestPacket] = []
    var seq = firstSequence
    for (i, frame) in frames.enumerated() {
        let payloads = packetizer.packetize(frame.data)
        for (j, payload) in payloads.enumerated() {
            out.append(TestPacket(sequenceNumber: seq, timestamp: UInt32(i * 3000), marker: j == payloads.count - 1, payload: payload))
            seq &+= 1
        }
    }
    return out
}

private func feed(_ packets: [TestPacket], to assembler: inout VP8FrameAssembler) -> [VP8FrameAssembler.Event] {
    var events: [VP8FrameAssembler.Event] = []
    for p in packets {
        events += p.payload.withUnsafeBytes {
            assembler.insert(sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, marker: p.marker, payload: $0)
        }
    }
    return events
}

/// Real VP8 frames: a keyframe of a 640×360 test pattern (several packets) and deltas.
private func encodedFrames(count: Int) throws -> [EncodedVideoFrame] {
    let encoder = try VPXEncoder(.init(codec: .vp8, width: 640, height: 360, bitrateKbps: 1500, framesPerSecond: 30))
    let pattern = TestPattern(width: 640, height: 360)
    var frames: [EncodedVideoFrame] = []
    for i in 0..<count { frames += try encoder.encode(pattern.frame(i)) }
    return frames
}

@Suite("VP8 packetization (RFC 7741)")
struct VP8PacketizationTests {
    @Test("descriptors: S only on a frame's first packet, picture ID +1 per frame, payloads ≤ 1100 bytes")
    func descriptors() throws {
        var packetizer = VP8Packetizer(pictureID: 0x7FFF)
        let first = packetizer.packetize([UInt8](repeating: 0xAB, count: 3000))
        let second = packetizer.packetize([0x01, 0x02])
        #expect(first.count == 3)
        #expect(first.allSatisfy { $0.count <= 1100 })
        #expect(first.map { $0.count - 4 }.reduce(0, +) == 3000)
        for (i, payload) in first.enumerated() {
            try payload.withUnsafeBytes { bytes in
                let d = try VP8PayloadDescriptor(bytes)
                #expect(d.isStartOfFrame == (i == 0))
                #expect(d.pictureID == 0x7FFF)
                #expect(d.hasLongPictureID)
            }
        }
        // X=1, then I=1, then M=1 with the 15-bit picture ID 0 (wrapped), then the bytes.
        #expect(second == [[0x90, 0x80, 0x80, 0x00, 0x01, 0x02]])
        #expect(packetizer.packetize([]).isEmpty)
    }

    @Test("real VP8 frames survive packetize → assemble → decode")
    func roundTrip() throws {
        let frames = try encodedFrames(count: 10)
        var packetizer = VP8Packetizer()
        let sent = packets(for: frames, packetizer: &packetizer)
        #expect(sent.count > frames.count, "the keyframe takes several packets")
        var assembler = VP8FrameAssembler()
        let events = feed(sent, to: &assembler)
        let decoder = try VPXDecoder(codec: .vp8)
        #expect(events.count == frames.count)
        for (event, frame) in zip(events, frames) {
            guard case .frame(let data, _, let isKeyframe) = event else {
                Issue.record("expected a whole frame, got \(event)")
                continue
            }
            #expect(data.elementsEqual(frame.data))
            #expect(isKeyframe == frame.isKeyframe)
            let picture = try #require(try decoder.decode(data))
            #expect(picture.width == 640 && picture.height == 360)
        }
        #expect(assembler.counters.lost == 0 && assembler.counters.incomplete == 0)
    }

    @Test("a lost middle packet makes its frame incomplete; the next delta is not handed out")
    func lossDetected() throws {
        let frames = try encodedFrames(count: 4)
        var packetizer = VP8Packetizer(maxPayloadSize: 200)
        var sent = packets(for: frames, packetizer: &packetizer)
        let keyPackets = sent.filter { $0.timestamp == 0 }.count
        try #require(keyPackets >= 3)
        sent.remove(at: 1)  // middle of the keyframe
        var assembler = VP8FrameAssembler(reorderWindow: 2)
        let events = feed(sent, to: &assembler)
        #expect(events.first == .incomplete(timestamp: 0))
        #expect(assembler.counters.lost == 1)
        #expect(!events.contains { if case .frame(_, let ts, _) = $0 { ts == 0 } else { false } })
    }

    @Test("a whole frame lost between two others marks the next delta incomplete")
    func wholeFrameLost() throws {
        let frames = try encodedFrames(count: 4)
        var packetizer = VP8Packetizer()
        let sent = packets(for: frames, packetizer: &packetizer).filter { $0.timestamp != 3000 }
        var assembler = VP8FrameAssembler(reorderWindow: 1)
        let events = feed(sent, to: &assembler)
        #expect(events.contains(.incomplete(timestamp: 6000)))
    }

    @Test("packets reordered within the window still assemble every frame")
    func reordering() throws {
        let frames = try encodedFrames(count: 6)
        var packetizer = VP8Packetizer(maxPayloadSize: 200)
        var sent = packets(for: frames, packetizer: &packetizer)
        sent.swapAt(1, 3)
        sent.swapAt(4, 5)
        sent.swapAt(sent.count - 1, sent.count - 3)
        var assembler = VP8FrameAssembler(reorderWindow: 4)
        let events = feed(sent, to: &assembler)
        let whole = events.compactMap { if case .frame(let data, _, _) = $0 { data } else { nil } }
        #expect(whole.count == frames.count)
        #expect(whole.elementsEqual(frames.map(\.data)), "every frame byte for byte, in order")
        #expect(assembler.counters.lost == 0 && assembler.counters.late == 0)
    }

    @Test("the send cache returns what was stored under a sequence number, nothing for others")
    func sendCache() {
        var cache = RTPSendCache(capacity: 4, slotSize: 16)
        let packet: [UInt8] = [1, 2, 3]
        packet.withUnsafeBytes { cache.store($0, sequenceNumber: 65_535) }
        var out = [UInt8](repeating: 0, count: 16)
        let n = out.withUnsafeMutableBytes { cache.lookup(65_535, into: $0) }
        #expect(n == 3)
        #expect(out.prefix(3) == [1, 2, 3])
        #expect(out.withUnsafeMutableBytes { cache.lookup(3, into: $0) } == nil, "same slot, other sequence number")
        #expect(out.withUnsafeMutableBytes { cache.lookup(0, into: $0) } == nil, "never stored")
    }
}
