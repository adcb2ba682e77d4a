import GiaobanWire
import Testing

@Suite("RTCP SR, RR and report blocks (RFC 3550 §6.4)")
struct RTCPReportTests {
    static let senderReport: [UInt8] = [
        0x81, 0xC8, 0x00, 0x0C,  // V=2 P=0 RC=1 | PT=200 SR | length 12 (52 bytes)
        0x12, 0x34, 0x56, 0x78,  // SSRC of sender
        0xE8, 0x4C, 0x3A, 0x10,  // NTP timestamp, seconds
        0x80, 0x00, 0x00, 0x00,  // NTP timestamp, fraction (0.5 s)
        0x00, 0x01, 0xE2, 0x40,  // RTP timestamp 123456
        0x00, 0x00, 0x03, 0xE8,  // sender's packet count 1000
        0x00, 0x0F, 0x42, 0x40,  // sender's octet count 1000000
        // report block 1
        0x9A, 0xBC, 0xDE, 0xF0,  // SSRC_1
        0x40,                    // fraction lost 64/256
        0xFF, 0xFF, 0xFE,        // cumulative lost -2 (signed 24-bit: duplicates)
        0x00, 0x01, 0x00, 0x10,  // extended highest seq: 1 cycle, seq 16
        0x00, 0x00, 0x00, 0x2A,  // interarrival jitter 42
        0x3A, 0x10, 0x80, 0x00,  // LSR
        0x00, 0x01, 0x80, 0x00,  // DLSR 1.5 s (in 1/65536 s)
    ]

    static let block = ReceptionReportBlock(
        ssrc: 0x9ABC_DEF0, fractionLost: 0x40, cumulativeLost: -2, extendedHighestSequence: 0x0001_0010,
        jitter: 42, lastSenderReport: 0x3A10_8000, delaySinceLastSenderReport: 0x0001_8000)

    @Test func senderReportFields() throws {
        try Self.senderReport.withUnsafeBytes { raw throws in
            let sr = try SenderReport(raw)
            #expect(sr.ssrc == 0x1234_5678)
            #expect(sr.ntpTimestamp == 0xE84C_3A10_8000_0000)
            #expect(sr.compactNTP == 0x3A10_8000)
            #expect(sr.rtpTimestamp == 123_456)
            #expect(sr.packetCount == 1000)
            #expect(sr.octetCount == 1_000_000)
            #expect(sr.reportCount == 1)
            #expect(Array(sr.reports) == [Self.block])
            #expect(sr.reports[0].cumulativeLost == -2)
            #expect(sr.profileExtensions.isEmpty)
        }
    }

    @Test func senderReportBuilderWritesTheSameBytes() throws {
        let builder = SenderReportBuilder(
            ssrc: 0x1234_5678, ntpTimestamp: 0xE84C_3A10_8000_0000, rtpTimestamp: 123_456,
            packetCount: 1000, octetCount: 1_000_000, reports: [Self.block])
        #expect(try RTCPTest.bytes(of: builder) == Self.senderReport)
        RTCPTest.expectShortBufferThrows(builder)
    }

    @Test(arguments: [0, 1, 2, 31])
    func senderReportRoundTrip(blocks: Int) throws {
        let reports = (0..<blocks).map { (i: Int) -> ReceptionReportBlock in
            let n = UInt32(i)
            return ReceptionReportBlock(
                ssrc: n &* 0x0101_0101, fractionLost: UInt8(i), cumulativeLost: Int32(i) * 1000 - 8000,
                extendedHighestSequence: n << 16 | 0xFFFF, jitter: n * 3,
                lastSenderReport: 0xDEAD_0000 | n, delaySinceLastSenderReport: n << 16)
        }
        let builder = SenderReportBuilder(
            ssrc: 7, ntpTimestamp: .max, rtpTimestamp: .max, packetCount: 0, octetCount: .max, reports: reports)
        let bytes = try RTCPTest.bytes(of: builder)
        #expect(bytes.count == 28 + 24 * blocks)
        try bytes.withUnsafeBytes { raw throws in
            let view = try SenderReport(raw)
            #expect(SenderReportBuilder(view) == builder)
        }
    }

    @Test func senderReportWith32BlocksIsRefused() {
        let builder = SenderReportBuilder(
            ssrc: 1, ntpTimestamp: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0,
            reports: Array(repeating: ReceptionReportBlock(ssrc: 1), count: 32))
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        _ = out.withUnsafeMutableBytes { raw in
            #expect(throws: WireError(.badValue, "RTCP SR")) { _ = try builder.marshal(into: raw) }
        }
    }

    @Test func senderReportProfileExtensionsAreSkipped() throws {
        var bytes = Self.senderReport
        bytes[3] = 0x0D  // length 13: one more word
        bytes += [0xCA, 0xFE, 0xBA, 0xBE]  // profile-specific extension
        try bytes.withUnsafeBytes { raw throws in
            let sr = try SenderReport(raw)
            #expect(Array(sr.reports) == [Self.block])
            #expect(Array(sr.profileExtensions) == [0xCA, 0xFE, 0xBA, 0xBE])
            #expect(SenderReportBuilder(sr).marshalSize == 52)
        }
    }

    @Test func senderReportMalformed() {
        var tooManyBlocks = Self.senderReport
        tooManyBlocks[0] = 0x82  // RC=2 but one block present
        #expect(RTCPTest.reason(tooManyBlocks) { raw throws(WireError) in _ = try SenderReport(raw) } == .badLength)
        var asRR = Self.senderReport
        asRR[1] = 0xC9
        #expect(RTCPTest.reason(asRR) { raw throws(WireError) in _ = try SenderReport(raw) } == .unsupportedType)
        RTCPTest.expectEveryTruncationThrows(Self.senderReport) { raw throws(WireError) in _ = try SenderReport(raw) }
    }

    static let emptyReceiverReport: [UInt8] = [
        0x80, 0xC9, 0x00, 0x01,  // V=2 P=0 RC=0 | PT=201 RR | length 1 (8 bytes)
        0x00, 0x00, 0x30, 0x39,  // SSRC of packet sender 12345
    ]

    @Test func emptyReceiverReport() throws {
        try Self.emptyReceiverReport.withUnsafeBytes { raw throws in
            let rr = try ReceiverReport(raw)
            #expect(rr.ssrc == 12345)
            #expect(rr.reportCount == 0)
            #expect(Array(rr.reports).isEmpty)
        }
        #expect(try RTCPTest.bytes(of: ReceiverReportBuilder(ssrc: 12345)) == Self.emptyReceiverReport)
    }

    @Test func receiverReportRoundTripAndTruncations() throws {
        let builder = ReceiverReportBuilder(ssrc: 0xFEED_F00D, reports: [
            Self.block,
            ReceptionReportBlock(ssrc: 2, fractionLost: 255, cumulativeLost: ReceptionReportBlock.maxCumulativeLost,
                                 extendedHighestSequence: 0xFFFF_FFFF, jitter: 1),
        ])
        let bytes = try RTCPTest.bytes(of: builder)
        #expect(Array(bytes[0..<4]) == [0x82, 0xC9, 0x00, 0x0D])  // RC=2, RR, length 13 (56 bytes)
        try bytes.withUnsafeBytes { raw throws in
            let view = try ReceiverReport(raw)
            #expect(ReceiverReportBuilder(view) == builder)
        }
        RTCPTest.expectEveryTruncationThrows(bytes) { raw throws(WireError) in _ = try ReceiverReport(raw) }
        RTCPTest.expectShortBufferThrows(builder)
    }

    static let lostEncodings: [(Int32, [UInt8])] = [
        (0, [0x00, 0x00, 0x00]),
        (1, [0x00, 0x00, 0x01]),
        (-1, [0xFF, 0xFF, 0xFF]),
        (0x7F_FFFF, [0x7F, 0xFF, 0xFF]),
        (-0x80_0000, [0x80, 0x00, 0x00]),
    ]

    @Test(arguments: lostEncodings)
    func cumulativeLostIsSigned24Bit(value: Int32, wire: [UInt8]) throws {
        var out = [UInt8](repeating: 0, count: 24)
        _ = try out.withUnsafeMutableBytes { try ReceptionReportBlock(ssrc: 1, cumulativeLost: value).marshal(into: $0) }
        #expect(Array(out[5..<8]) == wire)
        try out.withUnsafeBytes { raw throws in #expect(try ReceptionReportBlock(raw).cumulativeLost == value) }
    }

    @Test(arguments: [(Int32(10_000_000), Int32(0x7F_FFFF)), (-10_000_000, -0x80_0000), (.max, 0x7F_FFFF), (.min, -0x80_0000)])
    func cumulativeLostIsClamped(value: Int32, clamped: Int32) throws {
        var out = [UInt8](repeating: 0, count: 24)
        _ = try out.withUnsafeMutableBytes { try ReceptionReportBlock(ssrc: 1, cumulativeLost: value).marshal(into: $0) }
        try out.withUnsafeBytes { raw throws in #expect(try ReceptionReportBlock(raw).cumulativeLost == clamped) }
    }

    @Test func reportBlockNeedsTwentyFourBytes() {
        #expect(RTCPTest.reason(Array(repeating: 0, count: 23)) { raw throws(WireError) in _ = try ReceptionReportBlock(raw) } == .truncated)
    }
}
