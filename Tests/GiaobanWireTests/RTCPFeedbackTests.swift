import GiaobanWire
import Testing

@Suite("RTCP feedback: NACK, PLI, FIR, REMB (RFC 4585 §6, RFC 5104 §4.3.1, draft-alvestrand-rmcat-remb)")
struct RTCPFeedbackTests {
    static let nack: [UInt8] = [
        0x81, 0xCD, 0x00, 0x03,  // V=2 P=0 FMT=1 | PT=205 RTPFB | length 3 (16 bytes)
        0x00, 0x00, 0x00, 0x01,  // SSRC of packet sender
        0x12, 0x34, 0x56, 0x78,  // SSRC of media source
        0x04, 0xD2,              // PID 1234
        0x00, 0x05,              // BLP 0b101: 1235 and 1237 lost too
    ]

    @Test func nackFieldsAndExpansion() throws {
        try Self.nack.withUnsafeBytes { raw throws in
            let nack = try GenericNACK(raw)
            #expect(nack.senderSSRC == 1)
            #expect(nack.mediaSSRC == 0x1234_5678)
            #expect(Array(nack) == [NACKItem(packetID: 1234, lostBitmask: 5)])
            var lost: [UInt16] = []
            nack.forEachLost { lost.append($0) }
            #expect(lost == [1234, 1235, 1237])
            #expect(Array(nack[0]) == [1234, 1235, 1237])
            let generic = try RTCPFeedback(raw)
            #expect(generic.packetType == .transportFeedback)
            #expect(generic.format == 1)
            #expect(Array(generic.fci) == [0x04, 0xD2, 0x00, 0x05])
        }
        #expect(try RTCPTest.bytes(of: GenericNACKBuilder(senderSSRC: 1, mediaSSRC: 0x1234_5678, lost: [1234, 1235, 1237])) == Self.nack)
        RTCPTest.expectEveryTruncationThrows(Self.nack) { raw throws(WireError) in _ = try GenericNACK(raw) }
    }

    @Test func nackPackingAcrossWraparound() throws {
        let lost: [UInt16] = [65533, 65535, 0, 2, 20]
        let items = NACKItem.pack(lost)
        // 65535, 0 and 2 are 2, 3 and 5 after 65533: bits 1, 2, 4. 20 is 23 after: a new item.
        #expect(items == [NACKItem(packetID: 65533, lostBitmask: 0b1_0110), NACKItem(packetID: 20)])
        #expect(items.flatMap { Array($0) } == lost)
        let bytes = try RTCPTest.bytes(of: GenericNACKBuilder(senderSSRC: 9, mediaSSRC: 8, lost: lost))
        #expect(Array(bytes[12...]) == [0xFF, 0xFD, 0x00, 0x16, 0x00, 0x14, 0x00, 0x00])
        try bytes.withUnsafeBytes { raw throws in
            var expanded: [UInt16] = []
            try GenericNACK(raw).forEachLost { expanded.append($0) }
            #expect(expanded == lost)
        }
    }

    @Test(arguments: [
        [UInt16(5)],
        [5, 21],                       // 16 after: last BLP bit
        [5, 22],                       // 17 after: a new item
        [5, 5, 6, 6],                  // duplicates dropped
        Array(0...40),
        Array(65500...65535) + Array(0...30),
        [65535, 0, 16],
        [100, 90],                     // behind: a second item, nothing lost
    ])
    func nackPackExpandRoundTrip(lost: [UInt16]) throws {
        var unique: [UInt16] = []
        for seq in lost where !unique.contains(seq) { unique.append(seq) }
        let builder = GenericNACKBuilder(senderSSRC: 1, mediaSSRC: 2, lost: lost)
        let bytes = try RTCPTest.bytes(of: builder)
        try bytes.withUnsafeBytes { raw throws in
            let view = try GenericNACK(raw)
            var expanded: [UInt16] = []
            view.forEachLost { expanded.append($0) }
            #expect(expanded == unique)
            #expect(GenericNACKBuilder(view) == builder)
        }
    }

    @Test func nackPackingIsMinimal() {
        #expect(NACKItem.pack([5, 21]).count == 1)
        #expect(NACKItem.pack([5, 22]).count == 2)
        #expect(NACKItem.pack(Array(0...33)).count == 2)
    }

    @Test func nackExpansionDoesNotAllocate() throws {
        var total = 0
        let allocations = try Self.nack.withUnsafeBytes { raw throws in
            try RTCPTest.allocations {
                let nack = try GenericNACK(raw)
                nack.forEachLost { total += Int($0) }
                for item in nack { for seq in item { total += Int(seq) } }
            }
        }
        #expect(total == 4 * (1234 + 1235 + 1237), "two passes in each of two runs")
        #expect(allocations == 0)
    }

    @Test func nackMalformed() {
        let noItems: [UInt8] = [0x81, 0xCD, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2]
        #expect(RTCPTest.reason(noItems) { raw throws(WireError) in _ = try GenericNACK(raw) } == .badLength)
        var halfItem = Self.nack
        halfItem[0] = 0xA1       // P=1
        halfItem[15] = 2         // two bytes of padding leave a two-byte FCI
        #expect(RTCPTest.reason(halfItem) { raw throws(WireError) in _ = try GenericNACK(raw) } == .badLength)
        var otherFormat = Self.nack
        otherFormat[0] = 0x83    // FMT=3 (TMMBR)
        #expect(RTCPTest.reason(otherFormat) { raw throws(WireError) in _ = try GenericNACK(raw) } == .unsupportedType)
        let empty = GenericNACKBuilder(senderSSRC: 1, mediaSSRC: 2, items: [])
        var out = [UInt8](repeating: 0, count: 64)
        _ = out.withUnsafeMutableBytes { raw in
            #expect(throws: WireError(.badValue, "RTCP NACK")) { _ = try empty.marshal(into: raw) }
        }
    }

    static let pli: [UInt8] = [
        0x81, 0xCE, 0x00, 0x02,  // V=2 P=0 FMT=1 | PT=206 PSFB | length 2 (12 bytes)
        0x00, 0x00, 0x00, 0x01,  // SSRC of packet sender
        0xAB, 0xCD, 0xEF, 0x01,  // SSRC of media source
    ]

    @Test func pli() throws {
        let pli = PictureLossIndication(senderSSRC: 1, mediaSSRC: 0xABCD_EF01)
        #expect(try RTCPTest.bytes(of: pli) == Self.pli)
        try Self.pli.withUnsafeBytes { raw throws in #expect(try PictureLossIndication(raw) == pli) }
        RTCPTest.expectEveryTruncationThrows(Self.pli) { raw throws(WireError) in _ = try PictureLossIndication(raw) }
        RTCPTest.expectShortBufferThrows(pli)
        let withFCI: [UInt8] = [0x81, 0xCE, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]
        #expect(RTCPTest.reason(withFCI) { raw throws(WireError) in _ = try PictureLossIndication(raw) } == .badLength)
        var fir = Self.pli
        fir[0] = 0x84
        #expect(RTCPTest.reason(fir) { raw throws(WireError) in _ = try PictureLossIndication(raw) } == .unsupportedType)
    }

    static let fir: [UInt8] = [
        0x84, 0xCE, 0x00, 0x06,  // V=2 P=0 FMT=4 | PT=206 PSFB | length 6 (28 bytes)
        0x00, 0x00, 0x00, 0x01,  // SSRC of packet sender
        0x00, 0x00, 0x00, 0x00,  // SSRC of media source: unused, zero
        0x11, 0x11, 0x11, 0x11,  // entry 1: SSRC
        0x2A, 0x00, 0x00, 0x00,  //   seq nr 42, reserved
        0x22, 0x22, 0x22, 0x22,  // entry 2: SSRC
        0xFF, 0x00, 0x00, 0x00,  //   seq nr 255, reserved
    ]

    @Test func fir() throws {
        let entries = [FullIntraRequest.Entry(ssrc: 0x1111_1111, sequenceNumber: 42),
                       FullIntraRequest.Entry(ssrc: 0x2222_2222, sequenceNumber: 255)]
        let builder = FullIntraRequestBuilder(senderSSRC: 1, entries: entries)
        #expect(try RTCPTest.bytes(of: builder) == Self.fir)
        try Self.fir.withUnsafeBytes { raw throws in
            let fir = try FullIntraRequest(raw)
            #expect(fir.senderSSRC == 1)
            #expect(fir.mediaSSRC == 0)
            #expect(Array(fir) == entries)
            #expect(FullIntraRequestBuilder(fir) == builder)
        }
        RTCPTest.expectEveryTruncationThrows(Self.fir) { raw throws(WireError) in _ = try FullIntraRequest(raw) }
        let noEntries: [UInt8] = [0x84, 0xCE, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0]
        #expect(RTCPTest.reason(noEntries) { raw throws(WireError) in _ = try FullIntraRequest(raw) } == .badLength)
        let halfEntry: [UInt8] = [0x84, 0xCE, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]
        #expect(RTCPTest.reason(halfEntry) { raw throws(WireError) in _ = try FullIntraRequest(raw) } == .badLength)
    }

    static let remb: [UInt8] = [
        0x8F, 0xCE, 0x00, 0x05,  // V=2 P=0 FMT=15 | PT=206 PSFB | length 5 (24 bytes)
        0x00, 0x00, 0x00, 0x01,  // SSRC of packet sender
        0x00, 0x00, 0x00, 0x00,  // SSRC of media source: zero
        0x52, 0x45, 0x4D, 0x42,  // 'R' 'E' 'M' 'B'
        0x01,                    // num SSRC 1
        0x0B, 0xD0, 0x90,        // exp 2 (000010), mantissa 250000 (11 1101 0000 1001 0000): 1 Mbps
        0x12, 0x34, 0x56, 0x78,  // SSRC feedback
    ]

    @Test func remb() throws {
        try Self.remb.withUnsafeBytes { raw throws in
            let remb = try ReceiverEstimatedMaxBitrate(raw)
            #expect(remb.senderSSRC == 1)
            #expect(remb.exponent == 2)
            #expect(remb.mantissa == 250_000)
            #expect(remb.bitrate == 1_000_000)
            #expect(Array(remb.ssrcs) == [0x1234_5678])
        }
        let builder = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: 1, bitrate: 1_000_000, ssrcs: [0x1234_5678])
        #expect(try RTCPTest.bytes(of: builder) == Self.remb)
        RTCPTest.expectEveryTruncationThrows(Self.remb) { raw throws(WireError) in _ = try ReceiverEstimatedMaxBitrate(raw) }
    }

    @Test(arguments: [
        (UInt64(0), UInt8(0), UInt32(0)),
        (262_143, 0, 262_143),               // largest mantissa, exponent 0
        (262_144, 1, 131_072),               // 2^18 needs exponent 1
        (1_000_001, 2, 250_000),             // low bits dropped: rounds down
        (2_500_000_000, 14, 152_587),
        (UInt64.max, 46, 262_143),
    ])
    func rembExponentAndMantissa(bitrate: UInt64, exponent: UInt8, mantissa: UInt32) throws {
        let encoded = ReceiverEstimatedMaxBitrateBuilder.encode(bitrate)
        #expect(encoded.exponent == exponent)
        #expect(encoded.mantissa == mantissa)
        let bytes = try RTCPTest.bytes(of: ReceiverEstimatedMaxBitrateBuilder(senderSSRC: 1, bitrate: bitrate, ssrcs: [2, 3]))
        try bytes.withUnsafeBytes { raw throws in
            let view = try ReceiverEstimatedMaxBitrate(raw)
            #expect(view.bitrate == UInt64(mantissa) << UInt64(exponent))
            #expect(view.bitrate <= bitrate)
            #expect(Array(view.ssrcs) == [2, 3])
        }
    }

    @Test func rembMalformed() {
        var saturating = Self.remb
        saturating[17] = 0xFF  // exp 63, mantissa top bits 11
        saturating.withUnsafeBytes { raw in #expect((try? ReceiverEstimatedMaxBitrate(raw))?.bitrate == .max) }
        var notREMB = Self.remb
        notREMB[15] = 0x58  // "REMX": some other application-layer feedback
        #expect(RTCPTest.reason(notREMB) { raw throws(WireError) in _ = try ReceiverEstimatedMaxBitrate(raw) } == .unsupportedType)
        var tooManySSRCs = Self.remb
        tooManySSRCs[16] = 2  // two SSRCs announced, one present
        #expect(RTCPTest.reason(tooManySSRCs) { raw throws(WireError) in _ = try ReceiverEstimatedMaxBitrate(raw) } == .badLength)
        let builder = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: 1, bitrate: 1, ssrcs: Array(repeating: 1, count: 256))
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        _ = out.withUnsafeMutableBytes { raw in
            #expect(throws: WireError(.badValue, "RTCP REMB")) { _ = try builder.marshal(into: raw) }
        }
    }

    @Test func genericFeedbackRejectsOtherTypes() {
        #expect(RTCPTest.reason(RTCPReportTests.emptyReceiverReport) { raw throws(WireError) in _ = try RTCPFeedback(raw) } == .unsupportedType)
        let short: [UInt8] = [0x81, 0xCE, 0x00, 0x01, 0, 0, 0, 1]
        #expect(RTCPTest.reason(short) { raw throws(WireError) in _ = try RTCPFeedback(raw) } == .badLength)
    }
}
