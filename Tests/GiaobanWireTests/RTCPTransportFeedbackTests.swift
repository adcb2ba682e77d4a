import GiaobanWire
import Testing

@Suite("RTCP transport-wide feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1)")
struct RTCPTransportFeedbackTests {
    typealias Result = TransportWideFeedback.PacketResult

    /// A two-bit status vector, a large negative delta, a run-length chunk and a sequence
    /// number wrap.
    static let mixed: [UInt8] = [
        0x8F, 0xCD, 0x00, 0x07,  // V=2 P=0 FMT=15 | PT=205 RTPFB | length 7 (32 bytes)
        0x11, 0x22, 0x33, 0x44,  // SSRC of packet sender
        0x55, 0x66, 0x77, 0x88,  // SSRC of media source
        0xFF, 0xFE,              // base sequence number 65534
        0x00, 0x0A,              // packet status count 10 (65534 … 7)
        0x00, 0x00, 0x10,        // reference time 16 × 64 ms = 1 024 000 µs
        0x07,                    // feedback packet count 7
        0xD4, 0x90,              // status vector, 2-bit (11), symbols 01 01 00 10 01 00 00:
                                 //   65534 small, 65535 small, 0 lost, 1 large, 2 small, 3 lost, 4 lost
        0x20, 0x03,              // run length (0), symbol 01 small, run 3: 5, 6, 7
        0x04,                    // 65534: +4 × 250 µs
        0x00,                    // 65535: +0
        0xFF, 0xFC,              // 1: -4 × 250 µs (signed 16-bit)
        0xFF,                    // 2: +255 × 250 µs
        0x01, 0x02, 0x03,        // 5, 6, 7
    ]

    static let mixedResults: [Result] = [
        Result(sequenceNumber: 65534, status: .smallDelta, deltaMicroseconds: 1000, arrivalMicroseconds: 1_025_000),
        Result(sequenceNumber: 65535, status: .smallDelta, deltaMicroseconds: 0, arrivalMicroseconds: 1_025_000),
        Result(sequenceNumber: 0, status: .notReceived, deltaMicroseconds: nil, arrivalMicroseconds: nil),
        Result(sequenceNumber: 1, status: .largeDelta, deltaMicroseconds: -1000, arrivalMicroseconds: 1_024_000),
        Result(sequenceNumber: 2, status: .smallDelta, deltaMicroseconds: 63750, arrivalMicroseconds: 1_087_750),
        Result(sequenceNumber: 3, status: .notReceived, deltaMicroseconds: nil, arrivalMicroseconds: nil),
        Result(sequenceNumber: 4, status: .notReceived, deltaMicroseconds: nil, arrivalMicroseconds: nil),
        Result(sequenceNumber: 5, status: .smallDelta, deltaMicroseconds: 250, arrivalMicroseconds: 1_088_000),
        Result(sequenceNumber: 6, status: .smallDelta, deltaMicroseconds: 500, arrivalMicroseconds: 1_088_500),
        Result(sequenceNumber: 7, status: .smallDelta, deltaMicroseconds: 750, arrivalMicroseconds: 1_089_250),
    ]

    /// As libwebrtc sends it: padded to 32 bits with the P bit; a negative reference time.
    static let padded: [UInt8] = [
        0xAF, 0xCD, 0x00, 0x05,  // V=2 P=1 FMT=15 | PT=205 RTPFB | length 5 (24 bytes)
        0x11, 0x22, 0x33, 0x44,  // SSRC of packet sender
        0x55, 0x66, 0x77, 0x88,  // SSRC of media source
        0x00, 0x99,              // base sequence number 153
        0x00, 0x01,              // packet status count 1
        0xFF, 0xFF, 0xFF,        // reference time -1 (signed 24-bit): -64 000 µs
        0x17,                    // feedback packet count 23
        0x20, 0x01,              // run length, symbol 01 small, run 1
        0x94,                    // +148 × 250 µs = 37 000 µs
        0x01,                    // padding: one byte, counting itself
    ]

    /// The one-bit status vector example of §3.1.4 (0x9F1C), zero-padded without the P bit.
    static let oneBit: [UInt8] = [
        0x8F, 0xCD, 0x00, 0x07,  // V=2 P=0 FMT=15 | PT=205 RTPFB | length 7 (32 bytes)
        0x11, 0x22, 0x33, 0x44,  // SSRC of packet sender
        0x55, 0x66, 0x77, 0x88,  // SSRC of media source
        0x00, 0x64,              // base sequence number 100
        0x00, 0x0E,              // packet status count 14
        0x00, 0x00, 0x00,        // reference time 0
        0x00,                    // feedback packet count 0
        0x9F, 0x1C,              // status vector, 1-bit (10): 0 1 1 1 1 1 0 0 0 1 1 1 0 0
        0x01, 0x02, 0x03, 0x04,  // deltas of 101 … 105 (×250 µs)
        0x05, 0x06, 0x07, 0x08,  //   and of 109 … 111
        0x00, 0x00,              //   (8 deltas: 105 … 111 are 0x05 … 0x08) zero padding
    ]

    static let oneBitArrivals: [TransportWideFeedbackBuilder.Arrival] = [
        .init(100, nil), .init(101, 250), .init(102, 750), .init(103, 1500), .init(104, 2500),
        .init(105, 3750), .init(106, nil), .init(107, nil), .init(108, nil), .init(109, 5250),
        .init(110, 7000), .init(111, 9000), .init(112, nil), .init(113, nil),
    ]

    static func results(_ bytes: [UInt8]) throws -> [Result] {
        try bytes.withUnsafeBytes { raw throws in Array(try TransportWideFeedback(raw)) }
    }

    @Test func mixedChunksParse() throws {
        try Self.mixed.withUnsafeBytes { raw throws in
            let feedback = try TransportWideFeedback(raw)
            #expect(feedback.senderSSRC == 0x1122_3344)
            #expect(feedback.mediaSSRC == 0x5566_7788)
            #expect(feedback.baseSequenceNumber == 65534)
            #expect(feedback.packetStatusCount == 10)
            #expect(feedback.referenceTime == 16)
            #expect(feedback.referenceTimeMicroseconds == 1_024_000)
            #expect(feedback.feedbackPacketCount == 7)
            #expect(Array(feedback) == Self.mixedResults)
        }
    }

    @Test func paddedPacketWithNegativeReferenceTime() throws {
        try Self.padded.withUnsafeBytes { raw throws in
            let feedback = try TransportWideFeedback(raw)
            #expect(feedback.referenceTime == -1)
            #expect(feedback.feedbackPacketCount == 23)
            #expect(Array(feedback) == [
                Result(sequenceNumber: 153, status: .smallDelta, deltaMicroseconds: 37000, arrivalMicroseconds: -27000),
            ])
            // Re-encoded: same content, zero padding instead of the P bit.
            var expected = Self.padded
            expected[0] = 0x8F
            expected[23] = 0x00
            #expect(try RTCPTest.bytes(of: try TransportWideFeedbackBuilder(feedback)) == expected)
        }
    }

    @Test func oneBitStatusVector() throws {
        let results = try Self.results(Self.oneBit)
        #expect(results.map(\.sequenceNumber) == Array(100...113))
        #expect(results.map(\.status.rawValue) == [0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0])
        #expect(results.map(\.arrivalMicroseconds) == Self.oneBitArrivals.map(\.arrivalMicroseconds))
    }

    @Test func builderWritesTheKnownBytes() throws {
        let mixed = try TransportWideFeedbackBuilder(
            senderSSRC: 0x1122_3344, mediaSSRC: 0x5566_7788, feedbackPacketCount: 7,
            arrivals: Self.mixedResults.filter { $0.status != .notReceived }
                .map { .init($0.sequenceNumber, $0.arrivalMicroseconds) })
        #expect(mixed.chunks == [0xD490, 0x2003])
        #expect(try RTCPTest.bytes(of: mixed) == Self.mixed)
        let oneBit = try TransportWideFeedbackBuilder(
            senderSSRC: 0x1122_3344, mediaSSRC: 0x5566_7788, feedbackPacketCount: 0, arrivals: Self.oneBitArrivals)
        #expect(oneBit.chunks == [0x9F1C])
        #expect(try RTCPTest.bytes(of: oneBit) == Self.oneBit)
        RTCPTest.expectShortBufferThrows(oneBit)
    }

    @Test func builderUsesRunLengthWhenAllTheSame() throws {
        let arrivals = (0..<20).map { TransportWideFeedbackBuilder.Arrival(UInt16(1000 + $0), Int64($0) * 1000) }
        let builder = try TransportWideFeedbackBuilder(senderSSRC: 1, mediaSSRC: 2, feedbackPacketCount: 0, arrivals: arrivals)
        #expect(builder.chunks == [0x2014])  // run length, small, 20
        let results = try Self.results(try RTCPTest.bytes(of: builder))
        #expect(results.map(\.arrivalMicroseconds) == arrivals.map(\.arrivalMicroseconds))
    }

    @Test func builderSplitsLongRuns() throws {
        let arrivals: [TransportWideFeedbackBuilder.Arrival] = [.init(0, 0), .init(10000, 1000)]
        let builder = try TransportWideFeedbackBuilder(senderSSRC: 1, mediaSSRC: 2, feedbackPacketCount: 0, arrivals: arrivals)
        // 1-bit vector (received + 13 lost), 8191 lost, 1795 lost, then one received.
        #expect(builder.chunks == [0xA000, 0x1FFF, 0x0703, 0x2001])
        #expect(builder.packetStatusCount == 10001)
        let results = try Self.results(try RTCPTest.bytes(of: builder))
        #expect(results.count == 10001)
        #expect(results.filter { $0.status != .notReceived }.map(\.sequenceNumber) == [0, 10000])
        #expect(results.last?.arrivalMicroseconds == 1000)
    }

    @Test func builderRoundsDownWithoutDrift() throws {
        // Arrivals 333 µs apart: each reported time is the true one rounded down to 250 µs.
        let arrivals = (0..<50).map { TransportWideFeedbackBuilder.Arrival(UInt16($0), 5_000_123 + Int64($0) * 333) }
        let builder = try TransportWideFeedbackBuilder(senderSSRC: 1, mediaSSRC: 2, feedbackPacketCount: 0, arrivals: arrivals)
        let results = try Self.results(try RTCPTest.bytes(of: builder))
        for (arrival, result) in zip(arrivals, results) {
            let reported = try #require(result.arrivalMicroseconds)
            let actual = try #require(arrival.arrivalMicroseconds)
            #expect(reported <= actual && actual - reported < 250)
        }
    }

    @Test(arguments: 0..<40)
    func builderRoundTripsPseudoRandomPatterns(seed: Int) throws {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
        var seq = UInt16(truncatingIfNeeded: next(65536))
        var time = Int64(next(4_000_000)) * 250  // on the 250 µs grid, so times round-trip exactly
        var arrivals: [TransportWideFeedbackBuilder.Arrival] = []
        for _ in 0..<(1 + next(300)) {
            let received = next(5) != 0
            if received {
                // Mostly small steps, some large or negative (reordering) ones, all on 250 µs.
                let step = next(10) == 0 ? next(8000) - 2000 : next(256)
                time += Int64(step) * 250
            }
            arrivals.append(.init(seq, received ? time : nil))
            seq &+= UInt16(1 + (next(8) == 0 ? next(40) : 0))
        }
        let builder = try TransportWideFeedbackBuilder(senderSSRC: 1, mediaSSRC: 2, feedbackPacketCount: 3, arrivals: arrivals)
        let bytes = try RTCPTest.bytes(of: builder)
        let results = try Self.results(bytes)
        let first = try #require(arrivals.first).sequenceNumber
        #expect(results.count == builder.packetStatusCount)
        #expect(results.enumerated().allSatisfy { $0.element.sequenceNumber == first &+ UInt16($0.offset) })
        let reported = results.filter { $0.status != .notReceived }.map { [$0.sequenceNumber: $0.arrivalMicroseconds] }
        let expected = arrivals.filter { $0.arrivalMicroseconds != nil }.map { [$0.sequenceNumber: $0.arrivalMicroseconds] }
        #expect(reported == expected)
        #expect(results.filter { $0.status == .notReceived }.count == builder.packetStatusCount - expected.count)
        try bytes.withUnsafeBytes { raw throws in
            let view = try TransportWideFeedback(raw)
            #expect(try TransportWideFeedbackBuilder(view) == builder)
        }
    }

    @Test func builderRefusesBadInput() {
        let cases: [[TransportWideFeedbackBuilder.Arrival]] = [
            [],                                        // nothing to report
            [.init(5, 0), .init(5, 10)],               // duplicate
            [.init(5, 0), .init(4, 10)],               // out of order
            [.init(5, 0), .init(6, 9_000_000)],        // 9 s apart: delta beyond 16 bits
            [.init(0, nil), .init(30000, nil), .init(60000, nil), .init(24464, nil)],  // spans 90001
        ]
        for arrivals in cases {
            #expect(throws: WireError(.badValue, "RTCP TWCC"), "\(arrivals)") {
                _ = try TransportWideFeedbackBuilder(senderSSRC: 1, mediaSSRC: 2, feedbackPacketCount: 0, arrivals: arrivals)
            }
        }
    }

    @Test func onlySymbolsWithinTheStatusCountCount() throws {
        let bytes: [UInt8] = [
            0x8F, 0xCD, 0x00, 0x06,  // FMT=15 RTPFB, length 6 (28 bytes)
            0, 0, 0, 1, 0, 0, 0, 2,  // SSRCs
            0x00, 0x00, 0x00, 0x03,  // base 0, status count 3
            0x00, 0x00, 0x00, 0x00,  // reference time 0, fb count 0
            0xD5, 0xFF,              // 2-bit vector: 01 01 01, then reserved 11s past the count
            0x01, 0x01, 0x01,        // three deltas
            0x00, 0x00, 0x00,        // zero padding
        ]
        #expect(try Self.results(bytes).map(\.arrivalMicroseconds) == [250, 500, 750])
        var fourStatuses = bytes
        fourStatuses[15] = 4  // now the first reserved symbol counts
        #expect(RTCPTest.reason(fourStatuses) { raw throws(WireError) in _ = try TransportWideFeedback(raw) } == .badValue)
    }

    @Test func malformed() {
        func reason(_ bytes: [UInt8]) -> WireError.Reason? {
            RTCPTest.reason(bytes) { raw throws(WireError) in _ = try TransportWideFeedback(raw) }
        }
        var zeroCount = Self.padded
        zeroCount[15] = 0
        #expect(reason(zeroCount) == .badValue)
        var reservedRun = Self.padded
        reservedRun[20] = 0x60  // run-length chunk of symbol 11
        #expect(reason(reservedRun) == .badValue)
        var missingDeltas = Self.mixed
        missingDeltas[15] = 14  // 14 statuses
        missingDeltas[23] = 7   // run of 7 small: four more deltas than present
        #expect(reason(missingDeltas) == .badLength)
        var trailing = Self.mixed + [0, 0, 0, 0]
        trailing[3] = 8  // length 8: four unexplained bytes after the deltas
        #expect(reason(trailing) == .badLength)
        var missingChunks = Self.mixed
        missingChunks[15] = 0xFF  // 255 statuses: chunks run into the deltas and past the end
        #expect(reason(missingChunks) != nil)
        #expect(reason(Array(Self.mixed[0..<16]) + [0, 0, 0, 0]) != nil)
        RTCPTest.expectEveryTruncationThrows(Self.mixed) { raw throws(WireError) in _ = try TransportWideFeedback(raw) }
        RTCPTest.expectEveryTruncationThrows(Self.padded) { raw throws(WireError) in _ = try TransportWideFeedback(raw) }
        RTCPTest.expectEveryTruncationThrows(Self.oneBit) { raw throws(WireError) in _ = try TransportWideFeedback(raw) }
    }

    @Test func paddedFeedbackPacketsInOneCompound() throws {
        // libwebrtc may put several P-bit-padded feedback packets in one datagram.
        let bytes = Self.padded + Self.padded
        #expect(RTCPTest.reason(bytes) { raw throws(WireError) in _ = try RTCPCompound(raw) } == .badPadding)
        try bytes.withUnsafeBytes { raw throws in
            let compound = try RTCPCompound(raw, allowsPaddingBeforeLast: true)
            for packet in compound { #expect(try Array(TransportWideFeedback(packet.bytes)).count == 1) }
        }
    }

    @Test func iterationDoesNotAllocate() throws {
        var sum: Int64 = 0
        let allocations = try Self.mixed.withUnsafeBytes { raw throws in
            try RTCPTest.allocations {
                for result in try TransportWideFeedback(raw) { sum += result.arrivalMicroseconds ?? 0 }
            }
        }
        #expect(sum == 2 * Self.mixedResults.reduce(0) { $0 + ($1.arrivalMicroseconds ?? 0) }, "two runs")
        #expect(allocations == 0)
    }
}
