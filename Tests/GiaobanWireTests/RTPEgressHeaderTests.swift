import GiaobanWire
import Testing

/// The relay's egress header writer, compared byte for byte with `RTPPacketBuilder` and
/// read back with `RTPPacketView`.
@Suite struct RTPEgressHeaderTests {
    private static let payload: [UInt8] = [0x90, 0xE0, 0x81, 0x23, 0x45, 0x5A, 0x5B]

    /// Expects an append to succeed.
    private func accepted(_ appended: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(appended, "append refused", sourceLocation: sourceLocation)
    }

    /// Expects an append to be refused.
    private func refused(_ appended: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!appended, "append accepted", sourceLocation: sourceLocation)
    }

    /// Writes `header` with `payload` into a slot of `slotSize` bytes (filled with 0xEE);
    /// returns the length and the slot's bytes.
    private func written(_ header: RTPEgressHeader, payload: [UInt8] = Self.payload, slotSize: Int = 256) -> (Int, [UInt8]) {
        var slot = [UInt8](repeating: 0xEE, count: slotSize)
        let length = slot.withUnsafeMutableBytes { out in payload.withUnsafeBytes { header.write(payload: $0, into: out) } }
        return (length, slot)
    }

    /// The packet `builder` makes.
    private func built(_ builder: RTPPacketBuilder) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        let n = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
        #expect(n == out.count)
        return out
    }

    /// Expects `header` + the payload to equal `builder`'s packet byte for byte and to parse back.
    private func expectSame(_ header: RTPEgressHeader, as builder: RTPPacketBuilder,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try built(builder)
        let (length, slot) = written(header)
        #expect(length == expected.count, sourceLocation: sourceLocation)
        #expect(Array(slot[0..<length]) == expected, sourceLocation: sourceLocation)
        #expect(slot[length...].allSatisfy { $0 == 0xEE }, "nothing written after the packet", sourceLocation: sourceLocation)
        #expect(header.marshalSize == builder.headerSize, sourceLocation: sourceLocation)
        try slot.withUnsafeBytes { raw in
            let view = try RTPPacketView(UnsafeRawBufferPointer(rebasing: raw[0..<length]))
            #expect(view.marker == header.marker && view.payloadType == header.payloadType & 0x7F, sourceLocation: sourceLocation)
            #expect(view.sequenceNumber == header.sequenceNumber && view.timestamp == header.timestamp, sourceLocation: sourceLocation)
            #expect(view.ssrc == header.ssrc && view.csrcCount == header.csrcCount, sourceLocation: sourceLocation)
            #expect(Array(view.payload) == Self.payload, sourceLocation: sourceLocation)
            #expect(view.extensions.map(\.id) == (0..<header.elementCount).map { header.element(at: $0).id },
                    sourceLocation: sourceLocation)
        }
    }

    @Test func plainHeaderMatchesTheBuilder() throws {
        let header = RTPEgressHeader(payloadType: 111, sequenceNumber: 0x1234, timestamp: 0xDEAD_BEEF, ssrc: 0x1122_3344)
        try expectSame(header, as: RTPPacketBuilder(payloadType: 111, sequenceNumber: 0x1234, timestamp: 0xDEAD_BEEF,
                                                    ssrc: 0x1122_3344, payload: Self.payload))
        let (length, slot) = written(header)
        #expect(length == 12 + Self.payload.count)
        #expect(Array(slot[0..<12]) == [
            0x80,  // V=2 P=0 X=0 CC=0
            0x6F,  // M=0 PT=111
            0x12, 0x34,  // sequence number
            0xDE, 0xAD, 0xBE, 0xEF,  // timestamp
            0x11, 0x22, 0x33, 0x44,  // SSRC
        ])
    }

    @Test func markerIsSetAndThePayloadTypeHighBitIgnored() throws {
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, marker: true)
        try expectSame(header, as: RTPPacketBuilder(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, marker: true,
                                                    payload: Self.payload))
        header.payloadType = 0x80 | 96
        #expect(written(header).1[1] == 0x80 | 96)
        header.marker = false
        #expect(written(header).1[1] == 96)
    }

    @Test func transportWideElementMatchesTheBuilder() throws {
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 7, timestamp: 90_000, ssrc: 0xCAFE_BABE)
        accepted(header.appendElement(id: 3, length: 2, value: 0xBEEF))
        try expectSame(header, as: RTPPacketBuilder(
            payloadType: 96, sequenceNumber: 7, timestamp: 90_000, ssrc: 0xCAFE_BABE,
            extensions: RTPHeaderExtensionBuilder(elements: [.init(id: 3, data: [0xBE, 0xEF])]), payload: Self.payload))
        let (_, slot) = written(header)
        #expect(Array(slot[0..<20]) == [
            0x90, 0x60, 0x00, 0x07, 0x00, 0x01, 0x5F, 0x90, 0xCA, 0xFE, 0xBA, 0xBE,  // X=1
            0xBE, 0xDE, 0x00, 0x01,  // one-byte profile, 1 word
            0x31, 0xBE, 0xEF,  // ID=3 L=1: transport-wide sequence number
            0x00,  // padding to the 32-bit boundary
        ])
        #expect(header.elementDataOffset(0) == 17)
    }

    @Test func transportWideAndAudioLevelMatchTheBuilder() throws {
        var header = RTPEgressHeader(payloadType: 111, sequenceNumber: 9, timestamp: 960, ssrc: 5, marker: true)
        accepted(header.appendElement(id: 5, length: 2, value: 0x0102))
        accepted(header.appendElement(id: 1, length: 1, value: 0x85))
        try expectSame(header, as: RTPPacketBuilder(
            payloadType: 111, sequenceNumber: 9, timestamp: 960, ssrc: 5, marker: true,
            extensions: RTPHeaderExtensionBuilder(elements: [.init(id: 5, data: [0x01, 0x02]), .init(id: 1, data: [0x85])]),
            payload: Self.payload))
        #expect(header.marshalSize == 24)  // 12 + 4 + 5 element bytes padded to 8
        #expect(header.elementDataOffset(0) == 17 && header.elementDataOffset(1) == 20)
    }

    @Test func elementsOfEverySizeMatchTheBuilder() throws {
        var header = RTPEgressHeader(payloadType: 100, sequenceNumber: 65535, timestamp: 1, ssrc: 2)
        accepted(header.appendElement(id: 1, length: 1, value: 0xAA))
        accepted(header.appendElement(id: 2, length: 2, value: 0xBBCC))
        accepted(header.appendElement(id: 3, length: 3, value: 0x01_0203))
        accepted(header.appendElement(id: 14, length: 4, value: 0x0405_0607))
        let elements: [RTPHeaderExtensionBuilder.Element] = [
            .init(id: 1, data: [0xAA]), .init(id: 2, data: [0xBB, 0xCC]), .init(id: 3, data: [0x01, 0x02, 0x03]),
            .init(id: 14, data: [0x04, 0x05, 0x06, 0x07]),
        ]
        try expectSame(header, as: RTPPacketBuilder(payloadType: 100, sequenceNumber: 65535, timestamp: 1, ssrc: 2,
                                                    extensions: RTPHeaderExtensionBuilder(elements: elements),
                                                    payload: Self.payload))
        #expect(header.elementDataOffset(3) == 12 + 4 + 2 + 3 + 4 + 1)
    }

    @Test func csrcsMatchTheBuilder() throws {
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 3, timestamp: 4, ssrc: 5)
        for csrc: UInt32 in [0x0102_0304, 0x0506_0708, 0x090A_0B0C] { accepted(header.appendCSRC(csrc)) }
        try expectSame(header, as: RTPPacketBuilder(payloadType: 96, sequenceNumber: 3, timestamp: 4, ssrc: 5,
                                                    csrcs: [0x0102_0304, 0x0506_0708, 0x090A_0B0C], payload: Self.payload))
        accepted(header.appendElement(id: 3, length: 2, value: 0x0A0B))
        try expectSame(header, as: RTPPacketBuilder(
            payloadType: 96, sequenceNumber: 3, timestamp: 4, ssrc: 5, csrcs: [0x0102_0304, 0x0506_0708, 0x090A_0B0C],
            extensions: RTPHeaderExtensionBuilder(elements: [.init(id: 3, data: [0x0A, 0x0B])]), payload: Self.payload))
        #expect(header.elementDataOffset(0) == 12 + 12 + 4 + 1)
        #expect(header.csrc(at: 2) == 0x090A_0B0C)
    }

    @Test func capacityAndRangesAreEnforced() {
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 0)
        for i in 0..<RTPEgressHeader.csrcCapacity { accepted(header.appendCSRC(UInt32(i))) }
        refused(header.appendCSRC(99))
        #expect(header.csrcCount == 4 && header.csrc(at: 3) == 3)
        refused(header.appendElement(id: 0, length: 1))  // ID 0 is padding
        refused(header.appendElement(id: 15, length: 1))  // ID 15 is reserved
        refused(header.appendElement(id: 1, length: 0))
        refused(header.appendElement(id: 1, length: 5))  // over the inline capacity
        #expect(header.elementCount == 0)
        for id: UInt8 in 1...4 { accepted(header.appendElement(id: id, length: 1, value: UInt32(id))) }
        refused(header.appendElement(id: 5, length: 1))
        #expect(header.elementCount == 4 && header.element(at: 3) == .init(id: 4, length: 1, value: 4))
        #expect(header.marshalSize == 12 + 16 + 4 + 8)
    }

    @Test func aSlotWithoutRoomForTheTagGetsNothing() {
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 0)
        header.appendElement(id: 3, length: 2)
        let length = header.marshalSize + Self.payload.count
        let (tooSmall, untouched) = written(header, slotSize: length + RTPEgressHeader.trailerRoom - 1)
        #expect(tooSmall == 0)
        #expect(untouched.allSatisfy { $0 == 0xEE })
        #expect(written(header, slotSize: length + RTPEgressHeader.trailerRoom).0 == length)
        #expect(RTPEgressHeader.trailerRoom == 16)
    }

    @Test func aValueCanFollowTheSize() throws {
        // The transport-wide number is known only once the packet's size is: set it before
        // writing (sizes are fixed by `appendElement`) or write it at its offset afterwards.
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3)
        header.appendElement(id: 3, length: 2)
        header.appendElement(id: 1, length: 1, value: 0x7F)
        let size = header.marshalSize
        var set = header
        set.setElementValue(0xABCD, at: 0)
        #expect(set.marshalSize == size)
        let length = size + Self.payload.count
        var after = written(header).1
        after.withUnsafeMutableBytes { $0.setU16(0xABCD, at: header.elementDataOffset(0)) }
        #expect(Array(after[0..<length]) == Array(written(set).1[0..<length]))
        try expectSame(set, as: RTPPacketBuilder(
            payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3,
            extensions: RTPHeaderExtensionBuilder(elements: [.init(id: 3, data: [0xAB, 0xCD]), .init(id: 1, data: [0x7F])]),
            payload: Self.payload))
    }

    @Test func marshalWritesTheHeaderOnly() throws {
        var header = RTPEgressHeader(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3)
        header.appendCSRC(4)
        header.appendElement(id: 2, length: 3, value: 0x0A_0B0C)
        var out = [UInt8](repeating: 0xEE, count: header.marshalSize)
        let n = try out.withUnsafeMutableBytes { try header.marshal(into: $0) }
        #expect(n == header.marshalSize)
        #expect(out == Array(written(header).1[0..<n]))
        var short = [UInt8](repeating: 0, count: header.marshalSize - 1)
        #expect(throws: WireError(.bufferTooSmall, "RTP egress header")) {
            _ = try short.withUnsafeMutableBytes { try header.marshal(into: $0) }
        }
    }

    @Test func buildingAndWritingDoNotAllocate() throws {
        let slot = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 1100, alignment: 16)
        defer {
            slot.deallocate()
            payload.deallocate()
        }
        payload.initializeMemory(as: UInt8.self, repeating: 0x5A)
        var checksum = 0
        let allocations = RTCPTest.allocations {
            for i in 0..<1000 {
                var header = RTPEgressHeader(payloadType: 96, sequenceNumber: UInt16(truncatingIfNeeded: i),
                                             timestamp: UInt32(i) &* 3000, ssrc: 0xAABB_CCDD, marker: i % 10 == 0)
                header.appendCSRC(0x0102_0304)
                header.appendElement(id: 3, length: 2)
                header.appendElement(id: 1, length: 1, value: 0x90)
                let length = header.write(payload: UnsafeRawBufferPointer(payload), into: slot)
                slot.setU16(UInt16(truncatingIfNeeded: i), at: header.elementDataOffset(0))
                if let view = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: slot[0..<length])) {
                    checksum &+= Int(view.sequenceNumber) &+ view.payloadLength
                }
            }
        }
        #expect(checksum != 0)
        #expect(allocations == 0)
    }
}
