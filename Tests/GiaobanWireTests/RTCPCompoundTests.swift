import GiaobanWire
import Testing

@Suite("RTCP header and compound (RFC 3550 §6.1, §6.4.1, §A.2; RFC 5506)")
struct RTCPCompoundTests {
    @Test func headerFields() throws {
        let bytes: [UInt8] = [
            0xA1,  // V=2 (10), P=1, count=1 (00001)
            0xC9,  // PT=201 RR
            0x00, 0x07,  // length 7: 32 bytes
        ]
        try bytes.withUnsafeBytes { raw throws in
            let header = try RTCPHeader(raw)
            #expect(header.padding)
            #expect(header.count == 1)
            #expect(header.packetType == .receiverReport)
            #expect(header.length == 7)
            #expect(header.packetSize == 32)
        }
        var out = [UInt8](repeating: 0, count: 4)
        let header = RTCPHeader(padding: true, count: 1, packetType: .receiverReport, length: 7)
        _ = try out.withUnsafeMutableBytes { try header.marshal(into: $0) }
        #expect(out == bytes)
    }

    @Test func headerRejectsBadVersionAndShortInput() {
        #expect(RTCPTest.reason([0x41, 0xC9, 0x00, 0x01]) { raw throws(WireError) in _ = try RTCPHeader(raw) } == .badVersion)
        #expect(RTCPTest.reason([0x81, 0xC9, 0x00]) { raw throws(WireError) in _ = try RTCPHeader(raw) } == .truncated)
        var out = [UInt8](repeating: 0, count: 4)
        _ = out.withUnsafeMutableBytes { raw in
            #expect(throws: WireError(.badValue, "RTCP header")) {
                _ = try RTCPHeader(count: 32, packetType: .senderReport, length: 1).marshal(into: raw)
            }
        }
    }

    @Test func packetTypeNames() {
        #expect(RTCPPacketType.transportFeedback.description == "RTPFB")
        #expect(RTCPPacketType(rawValue: 195).description == "PT195")
    }

    /// SR + SDES + NACK + REMB, as a browser's sender would bundle them.
    static let sr = SenderReportBuilder(
        ssrc: 0x1111_1111, ntpTimestamp: 0xE84C_3A10_8000_0000, rtpTimestamp: 90_000,
        packetCount: 10, octetCount: 12_000,
        reports: [ReceptionReportBlock(ssrc: 0x2222_2222, fractionLost: 3, cumulativeLost: 7)])
    static let sdes = SourceDescriptionBuilder.cname(source: 0x1111_1111, "commune-042")
    static let nack = GenericNACKBuilder(senderSSRC: 0x1111_1111, mediaSSRC: 0x2222_2222, lost: [100, 102, 140])
    static let remb = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: 0x1111_1111, bitrate: 1_500_000, ssrcs: [0x2222_2222])

    static func compoundBytes() throws -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: RTCPCompound.marshalSize(sr, sdes, nack, remb))
        let written = try out.withUnsafeMutableBytes { raw in try RTCPCompound.marshal(sr, sdes, nack, remb, into: raw) }
        #expect(written == out.count)
        return out
    }

    @Test func compoundIteratesSRSDESNACKREMB() throws {
        let bytes = try Self.compoundBytes()
        try bytes.withUnsafeBytes { raw throws in
            let compound = try RTCPCompound(raw)
            #expect(compound.packetCount == 4)
            var types: [RTCPPacketType] = []
            for packet in compound {
                types.append(packet.packetType)
                switch packet.packetType {
                case .senderReport:
                    let view = try SenderReport(packet.bytes)
                    #expect(SenderReportBuilder(view) == Self.sr)
                case .sourceDescription:
                    let view = try SourceDescription(packet.bytes)
                    #expect(SourceDescriptionBuilder(view) == Self.sdes)
                case .transportFeedback:
                    let view = try GenericNACK(packet.bytes)
                    var lost: [UInt16] = []
                    view.forEachLost { lost.append($0) }
                    #expect(lost == [100, 102, 140])
                case .payloadFeedback:
                    let view = try ReceiverEstimatedMaxBitrate(packet.bytes)
                    #expect(view.bitrate == 1_500_000)
                    #expect(Array(view.ssrcs) == [0x2222_2222])
                default:
                    Issue.record("unexpected \(packet.packetType)")
                }
            }
            #expect(types == [.senderReport, .sourceDescription, .transportFeedback, .payloadFeedback])
        }
    }

    @Test func everyTruncationOfCompoundThrowsExceptAtPacketBoundaries() throws {
        let bytes = try Self.compoundBytes()
        let boundaries = [Self.sr.marshalSize, Self.sr.marshalSize + Self.sdes.marshalSize,
                          Self.sr.marshalSize + Self.sdes.marshalSize + Self.nack.marshalSize]
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            prefix.withUnsafeBytes { raw in
                if let index = boundaries.firstIndex(of: length) {
                    // A prefix ending on a packet boundary is itself a valid, shorter compound.
                    #expect((try? RTCPCompound(raw))?.packetCount == index + 1)
                } else {
                    #expect(throws: WireError.self, "prefix \(length)") { _ = try RTCPCompound(raw) }
                }
            }
        }
    }

    @Test func lonePLIIsAValidReducedSizeCompound() throws {
        let bytes: [UInt8] = [
            0x81, 0xCE, 0x00, 0x02,  // V=2 P=0 FMT=1 | PT=206 PSFB | length 2
            0x00, 0x00, 0x00, 0x01,  // sender SSRC 1
            0xAB, 0xCD, 0xEF, 0x01,  // media SSRC
        ]
        try bytes.withUnsafeBytes { raw throws in
            let compound = try RTCPCompound(raw)
            let packets = Array(compound)
            #expect(packets.count == 1)
            let pli = try PictureLossIndication(try #require(packets.first).bytes)
            #expect(pli == PictureLossIndication(senderSSRC: 1, mediaSSRC: 0xABCD_EF01))
        }
    }

    @Test func unknownTypesAreYieldedNotRejected() throws {
        let bytes: [UInt8] = [
            0x80, 0xC9, 0x00, 0x01,  // RR, RC=0, length 1
            0x00, 0x00, 0x00, 0x05,  //   SSRC 5
            0x80, 0xCF, 0x00, 0x02,  // XR (207), length 2: not parsed here
            0x00, 0x00, 0x00, 0x05,  //   SSRC
            0x04, 0x00, 0x00, 0x00,  //   some block
            0x80, 0xC3, 0x00, 0x00,  // PT 195, length 0: unknown, header only
        ]
        try bytes.withUnsafeBytes { raw throws in
            let compound = try RTCPCompound(raw)
            #expect(compound.map(\.packetType) == [.receiverReport, .extendedReport, RTCPPacketType(rawValue: 195)])
            #expect(compound.map(\.bytes.count) == [8, 12, 4])
            #expect(compound.map(\.payload.count) == [4, 8, 0])
        }
    }

    @Test func paddingOnlyOnLastPacket() throws {
        let paddedRR: [UInt8] = [
            0xA0, 0xC9, 0x00, 0x02,  // V=2 P=1 RC=0 | RR | length 2 (12 bytes)
            0x00, 0x00, 0x00, 0x05,  // SSRC 5
            0x00, 0x00, 0x00, 0x04,  // padding: 4 bytes, last one counts them
        ]
        let pli: [UInt8] = [0x81, 0xCE, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2]
        // Padding on the last packet: fine, and the RR's content excludes it.
        try (pli + paddedRR).withUnsafeBytes { raw throws in
            let packets = Array(try RTCPCompound(raw))
            #expect(packets.count == 2)
            #expect(packets.last?.contentEnd == 8)
            #expect(try ReceiverReport(#require(packets.last).bytes).ssrc == 5)
        }
        // Padding before the last packet: refused by RFC 3550, accepted when asked.
        #expect(RTCPTest.reason(paddedRR + pli) { raw throws(WireError) in _ = try RTCPCompound(raw) } == .badPadding)
        try (paddedRR + pli).withUnsafeBytes { raw throws in
            #expect(try RTCPCompound(raw, allowsPaddingBeforeLast: true).packetCount == 2)
        }
    }

    @Test(arguments: [UInt8(0), 9, 255])
    func badPaddingCountThrows(count: UInt8) {
        let bytes: [UInt8] = [0xA0, 0xC9, 0x00, 0x02, 0, 0, 0, 5, 0, 0, 0, count]
        #expect(RTCPTest.reason(bytes) { raw throws(WireError) in _ = try RTCPCompound(raw) } == .badPadding)
        #expect(RTCPTest.reason(bytes) { raw throws(WireError) in _ = try RTCPPacket(raw) } == .badPadding)
    }

    @Test func lengthOverrunAndEmptyInputThrow() {
        // RR claims length 2 (12 bytes) but only 8 are present.
        #expect(RTCPTest.reason([0x80, 0xC9, 0x00, 0x02, 0, 0, 0, 5]) { raw throws(WireError) in _ = try RTCPCompound(raw) } == .truncated)
        #expect(RTCPTest.reason([]) { raw throws(WireError) in _ = try RTCPCompound(raw) } == .truncated)
        // A second packet with version 1.
        #expect(RTCPTest.reason([0x80, 0xC9, 0x00, 0x01, 0, 0, 0, 5, 0x40, 0xC9, 0x00, 0x00]) { raw throws(WireError) in
            _ = try RTCPCompound(raw)
        } == .badVersion)
        // A single packet given more bytes than its length.
        #expect(RTCPTest.reason([0x80, 0xC9, 0x00, 0x01, 0, 0, 0, 5, 0, 0, 0, 0]) { raw throws(WireError) in
            _ = try RTCPPacket(raw)
        } == .badLength)
    }

    @Test func compoundMarshalChecksBufferSize() {
        var out = [UInt8](repeating: 0, count: RTCPCompound.marshalSize(Self.sr, Self.sdes) - 1)
        _ = out.withUnsafeMutableBytes { raw in
            #expect(throws: WireError(.bufferTooSmall, "RTCP compound")) { _ = try RTCPCompound.marshal(Self.sr, Self.sdes, into: raw) }
        }
    }

    @Test func parsingACompoundDoesNotAllocate() throws {
        let bytes = try Self.compoundBytes()
        var total = 0
        let allocations = try bytes.withUnsafeBytes { raw throws in
            try RTCPTest.allocations {
                for packet in try RTCPCompound(raw) {
                    switch packet.packetType {
                    case .senderReport:
                        for block in try SenderReport(packet.bytes).reports { total &+= Int(block.cumulativeLost) }
                    case .sourceDescription:
                        for chunk in try SourceDescription(packet.bytes) { total &+= chunk.cname?.count ?? 0 }
                    case .transportFeedback:
                        try GenericNACK(packet.bytes).forEachLost { total &+= Int($0) }
                    case .payloadFeedback:
                        total &+= Int(try ReceiverEstimatedMaxBitrate(packet.bytes).bitrate)
                    default:
                        break
                    }
                }
            }
        }
        #expect(total == 2 * (7 + 11 + 342 + 1_500_000), "two runs: warm-up and measured")
        #expect(allocations == 0)
    }
}
