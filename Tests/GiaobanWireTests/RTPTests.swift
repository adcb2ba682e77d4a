import CAllocCounter
import GiaobanWire
import Testing

/// Tests of this file, grouped so their names stay local to it.
@Suite struct RTPTests {}

// MARK: - Vectors (RFC 3550 §5.1 layout, annotated field by field)

/// Fixed header only, no padding, 4 payload bytes.
private let plainPacket: [UInt8] = [
    0x80,  // V=2 P=0 X=0 CC=0
    0xEF,  // M=1 PT=111
    0x12, 0x34,  // sequence number 0x1234
    0xDE, 0xAD, 0xBE, 0xEF,  // timestamp 0xDEADBEEF
    0x11, 0x22, 0x33, 0x44,  // SSRC 0x11223344
    0xF8, 0xFF, 0xFE, 0x01,  // payload (4 bytes)
]

/// Two CSRCs, a one-byte extension block (RFC 8285 §4.2), payload and 3 bytes of padding.
private let fullPacket: [UInt8] = [
    0xB2,  // V=2 P=1 X=1 CC=2
    0x60,  // M=0 PT=96
    0xFF, 0xFF,  // sequence number 65535
    0x00, 0x00, 0x00, 0x01,  // timestamp 1
    0xCA, 0xFE, 0xBA, 0xBE,  // SSRC
    0x01, 0x02, 0x03, 0x04,  // CSRC 1
    0x05, 0x06, 0x07, 0x08,  // CSRC 2
    0xBE, 0xDE, 0x00, 0x02,  // profile 0xBEDE, length 2 words
    0x10, 0x8A,  // ID=1 L=0: audio level V=1 level 10
    0x31, 0x00, 0x2A,  // ID=3 L=1: transport-wide seq 42
    0x00, 0x00, 0x00,  // padding to the 32-bit boundary
    0xAA, 0xBB, 0xCC,  // payload (3 bytes)
    0x00, 0x00, 0x03,  // RTP padding, count 3
]

/// A two-byte extension block (RFC 8285 §4.3) with a MID element and a 1-byte payload.
private let twoBytePacket: [UInt8] = [
    0x90,  // V=2 P=0 X=1 CC=0
    0x00,  // M=0 PT=0
    0x00, 0x01,  // sequence number 1
    0x00, 0x00, 0x00, 0x02,  // timestamp 2
    0x00, 0x00, 0x00, 0x03,  // SSRC 3
    0x10, 0x00, 0x00, 0x01,  // profile 0x1000, length 1 word
    0x05, 0x02, 0x61, 0x62,  // ID=5 L=2 "ab"
    0x7F,  // payload
]

/// Parses `bytes` and hands the view to `body`.
private func withView<R>(_ bytes: [UInt8], _ body: (RTPPacketView) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try RTPPacketView(raw)) }
}

/// The reason parsing `bytes` fails, or nil when it parses.
private func failure(_ bytes: [UInt8]) -> WireError.Reason? {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try RTPPacketView(raw)
            return nil
        } catch {
            return error.reason
        }
    }
}

// MARK: - Parsing

extension RTPTests {
    @Test func parsesFixedHeader() throws {
        try withView(plainPacket) { p in
            #expect(p.version == 2)
            #expect(!p.hasPadding)
            #expect(!p.hasExtension)
            #expect(p.csrcCount == 0)
            #expect(p.marker)
            #expect(p.payloadType == 111)
            #expect(p.sequenceNumber == 0x1234)
            #expect(p.timestamp == 0xDEAD_BEEF)
            #expect(p.ssrc == 0x1122_3344)
            #expect(Array(p.csrcs).isEmpty)
            #expect(p.extensionProfile == nil)
            #expect(p.extensionOffset == nil)
            #expect(p.headerLength == 12)
            #expect(p.payloadOffset == 12)
            #expect(p.payloadLength == 4)
            #expect(p.paddingLength == 0)
            #expect(Array(p.payload) == [0xF8, 0xFF, 0xFE, 0x01])
            #expect(p.extensions.isEmpty)
        }
    }

    @Test func parsesCSRCsExtensionAndPadding() throws {
        try withView(fullPacket) { p in
            #expect(p.hasPadding)
            #expect(p.hasExtension)
            #expect(!p.marker)
            #expect(p.payloadType == 96)
            #expect(p.sequenceNumber == 65535)
            #expect(p.timestamp == 1)
            #expect(p.ssrc == 0xCAFE_BABE)
            #expect(p.csrcCount == 2)
            #expect(Array(p.csrcs) == [0x0102_0304, 0x0506_0708])
            #expect(p.csrcs.count == 2 && p.csrcs[1] == 0x0506_0708)
            #expect(p.extensionOffset == 20)
            #expect(p.extensionProfile == 0xBEDE)
            #expect(p.extensions.form == .oneByte)
            #expect(p.extensions.map(\.id) == [1, 3])
            #expect(p.extensions.map { Array($0.data) } == [[0x8A], [0x00, 0x2A]])
            #expect(p.extensions.map(\.dataOffset) == [25, 27])
            #expect(p.headerLength == 32)
            #expect(p.payloadOffset == 32)
            #expect(p.payloadLength == 3)
            #expect(p.paddingLength == 3)
            #expect(Array(p.payload) == [0xAA, 0xBB, 0xCC])
        }
    }

    @Test func parsesTwoByteExtensionBlock() throws {
        try withView(twoBytePacket) { p in
            #expect(p.extensionProfile == 0x1000)
            #expect(p.extensions.form == .twoByte)
            let mid = try #require(p.extensions.element(id: 5))
            #expect(try TextHeaderExtension(mid.data).equals("ab"))
            #expect(mid.dataOffset == 18)
            #expect(p.headerLength == 20)
            #expect(Array(p.payload) == [0x7F])
        }
    }

    @Test func keepsUnknownExtensionProfileOpaque() throws {
        var bytes = twoBytePacket
        bytes[12] = 0xAB  // profile 0xAB00: neither 0xBEDE nor 0x100X
        try withView(bytes) { p in
            #expect(p.extensionProfile == 0xAB00)
            #expect(p.extensions.form == .opaque)
            #expect(p.extensions.isEmpty)
            #expect(Array(p.extensions.bytes) == [0x05, 0x02, 0x61, 0x62])
            #expect(p.headerLength == 20)
        }
    }

    @Test(arguments: [UInt8(0x00), 0x40, 0xC0])
    func rejectsVersionOtherThanTwo(firstByte: UInt8) {
        var bytes = plainPacket
        bytes[0] = firstByte
        #expect(failure(bytes) == .badVersion)
    }

    @Test func paddingCountOfZeroIsRejected() {
        var bytes = fullPacket
        bytes[bytes.count - 1] = 0
        #expect(failure(bytes) == .badPadding)
    }

    @Test func paddingLargerThanPayloadIsRejected() {
        var bytes = fullPacket
        bytes[bytes.count - 1] = 7  // 3 payload + 3 padding bytes follow the header: 7 is too many
        #expect(failure(bytes) == .badPadding)
    }

    @Test func paddingMayFillTheWholePayload() throws {
        var bytes = fullPacket
        bytes[bytes.count - 1] = 6
        try withView(bytes) { p in
            #expect(p.payloadLength == 0)
            #expect(p.paddingLength == 6)
        }
    }

    @Test func paddingBitWithNothingAfterHeaderIsRejected() {
        var bytes = Array(plainPacket[0..<12])
        bytes[0] |= 0x20
        #expect(failure(bytes) == .badPadding)
    }

    @Test func extensionLengthBeyondPacketIsTruncated() {
        var bytes = twoBytePacket
        bytes[15] = 2  // claims 8 bytes of elements; 5 remain
        #expect(failure(bytes) == .truncated)
    }

    @Test func extensionElementOverrunningBlockIsRejected() {
        var bytes = twoBytePacket
        bytes[17] = 3  // two-byte element claims 3 data bytes; 2 are left in the block
        #expect(failure(bytes) == .badExtension)
    }

    @Test(arguments: [fullPacket, twoBytePacket, plainPacket])
    func everyTruncationOfTheHeaderThrows(packet: [UInt8]) throws {
        let header = try withView(packet) { $0.headerLength }
        for n in 0..<header {
            #expect(failure(Array(packet[0..<n])) == .truncated, "length \(n)")
        }
    }

    @Test func everyTruncationOfAPaddedPacketThrows() {
        // Cutting a padded packet anywhere makes the last byte a data or header byte whose
        // value is not a valid padding count for what remains.
        for n in 0..<fullPacket.count {
            #expect(failure(Array(fullPacket[0..<n])) != nil, "length \(n)")
        }
    }

    @Test func truncatingTheUnpaddedPayloadShortensIt() throws {
        for n in 12...plainPacket.count {
            try withView(Array(plainPacket[0..<n])) { p in
                #expect(p.payloadLength == n - 12)
            }
        }
    }
}

// MARK: - Building

private func builtBytes(_ builder: RTPPacketBuilder) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xEE, count: builder.marshalSize)
    let n = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    #expect(n == builder.marshalSize)
    return out
}

private let fullBuilder = RTPPacketBuilder(
    payloadType: 96, sequenceNumber: 65535, timestamp: 1, ssrc: 0xCAFE_BABE, marker: false,
    csrcs: [0x0102_0304, 0x0506_0708],
    extensions: RTPHeaderExtensionBuilder(elements: [
        .init(id: 1, data: [0x8A]), .init(id: 3, data: [0x00, 0x2A]),
    ]),
    payload: [0xAA, 0xBB, 0xCC], paddingLength: 3)

extension RTPTests {
    @Test func builderWritesTheAnnotatedPacket() throws {
        #expect(try builtBytes(fullBuilder) == fullPacket)
        let plain = RTPPacketBuilder(
            payloadType: 111, sequenceNumber: 0x1234, timestamp: 0xDEAD_BEEF, ssrc: 0x1122_3344,
            marker: true, payload: [0xF8, 0xFF, 0xFE, 0x01])
        #expect(try builtBytes(plain) == plainPacket)
    }

    @Test func builderWritesTwoByteForm() throws {
        let b = RTPPacketBuilder(
            payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3,
            extensions: RTPHeaderExtensionBuilder(elements: [.init(id: 5, data: Array("ab".utf8))], form: .twoByte),
            payload: [0x7F])
        #expect(try builtBytes(b) == twoBytePacket)
    }

    @Test func builderWritesPayloadGivenSeparately() throws {
        var b = fullBuilder
        b.payload = []
        let payload: [UInt8] = [0xAA, 0xBB, 0xCC]
        var out = [UInt8](repeating: 0, count: fullPacket.count)
        let n = try out.withUnsafeMutableBytes { o in
            try payload.withUnsafeBytes { p in try b.marshal(payload: p, into: o) }
        }
        #expect(n == fullPacket.count)
        #expect(out == fullPacket)
    }

    @Test func builderRejectsShortBuffers() {
        for n in 0..<fullBuilder.marshalSize {
            var out = [UInt8](repeating: 0, count: n)
            #expect(throws: WireError(.bufferTooSmall, "RTP packet")) {
                _ = try out.withUnsafeMutableBytes { try fullBuilder.marshal(into: $0) }
            }
        }
    }

    @Test func builderRejectsTooManyCSRCsAndLargePayloadType() {
        var many = fullBuilder
        many.csrcs = Array(repeating: 7, count: 16)
        #expect(throws: WireError(.badValue, "RTP packet")) { try builtBytes(many) }
        var pt = fullBuilder
        pt.payloadType = 128
        #expect(throws: WireError(.badValue, "RTP packet")) { try builtBytes(pt) }
    }

    @Test func builtPacketsParseBack() throws {
        var b = fullBuilder
        b.marker = true
        b.csrcs = [1, 2, 3]
        b.paddingLength = 1
        b.extensions?.append(id: 14, data: Array(repeating: 9, count: 16))
        try withView(try builtBytes(b)) { p in
            #expect(p.marker && p.payloadType == 96 && p.sequenceNumber == 65535 && p.timestamp == 1)
            #expect(Array(p.csrcs) == [1, 2, 3])
            #expect(p.extensions.map(\.id) == [1, 3, 14])
            #expect(p.extensions.element(id: 14).map { Array($0.data) } == Array(repeating: 9, count: 16))
            #expect(Array(p.payload) == [0xAA, 0xBB, 0xCC])
            #expect(p.paddingLength == 1)
        }
    }
}

// MARK: - In-place rewrite

extension RTPTests {
    @Test func rewritesHeaderFieldsInPlace() throws {
        var bytes = fullPacket
        try bytes.withUnsafeMutableBytes { raw in
            let rw = try RTPHeaderRewrite(raw)
            rw.setSSRC(0x0A0B_0C0D)
            rw.setSequenceNumber(0x0102)
            rw.setTimestamp(0x0304_0506)
            rw.setPayloadType(0xFF)  // high bit ignored: PT 127
            rw.setMarker(true)
            #expect(Array(rw.payload) == [0xAA, 0xBB, 0xCC])
        }
        var expected = fullPacket
        expected[1] = 0xFF
        expected.replaceSubrange(2..<12, with: [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0B, 0x0C, 0x0D])
        #expect(bytes == expected)
    }

    @Test func markerAndPayloadTypeAreIndependent() throws {
        var bytes = plainPacket  // M=1 PT=111
        try bytes.withUnsafeMutableBytes { raw in
            let rw = try RTPHeaderRewrite(raw)
            rw.setMarker(false)
            #expect(raw[1] == 111)
            rw.setPayloadType(96)
            #expect(raw[1] == 96)
            rw.setMarker(true)
            #expect(raw[1] == 0x80 | 96)
            rw.setPayloadType(0)
            #expect(raw[1] == 0x80)
        }
    }

    @Test func rewritesExtensionElementsInPlace() throws {
        var copy = fullPacket
        try fullPacket.withUnsafeBytes { src in
            let view = try RTPPacketView(src)
            try copy.withUnsafeMutableBytes { dst in
                let rw = try RTPHeaderRewrite(dst, copyOf: view)
                let twcc = try #require(view.extensions.element(id: 3))
                try rw.setTransportSequenceNumber(0xBEEF, in: twcc)
                let level = try #require(view.extensions.element(id: 1))
                try [UInt8(0x05)].withUnsafeBytes { try rw.overwrite(level, with: $0) }
                #expect(throws: WireError(.badLength, "RTP header extension overwrite")) {
                    try [UInt8(1), 2].withUnsafeBytes { try rw.overwrite(level, with: $0) }
                }
                #expect(throws: WireError(.badLength, "RTP abs-send-time")) {
                    try rw.setAbsSendTime(1, in: twcc)  // 2-byte element cannot hold 3 bytes
                }
            }
        }
        var expected = fullPacket
        expected[25] = 0x05
        expected[27] = 0xBE
        expected[28] = 0xEF
        #expect(copy == expected)
    }

    @Test func rewriteOfACopyNeedsTheSameSize() throws {
        var short = [UInt8](repeating: 0, count: plainPacket.count - 1)
        try plainPacket.withUnsafeBytes { src in
            let view = try RTPPacketView(src)
            #expect(throws: WireError(.badLength, "RTP header rewrite")) {
                _ = try short.withUnsafeMutableBytes { try RTPHeaderRewrite($0, copyOf: view) }
            }
        }
    }

    @Test func rewriteValidatesThePacket() {
        var bytes = fullPacket
        bytes[0] = 0x40
        #expect(throws: WireError(.badVersion, "RTP header")) {
            _ = try bytes.withUnsafeMutableBytes { try RTPHeaderRewrite($0) }
        }
    }
}

// MARK: - Allocation-free forwarding path

extension RTPTests {
    @Test func parseAndRewriteOfAThousandPacketsDoNotAllocate() throws {
        // A VP8 packet with a transport-wide sequence number, as the relay forwards it.
        let vp8: [UInt8] = [0x90, 0x80, 0x80, 0x01, 0x9D]  // X S PID=0, I, 15-bit picture ID 1, payload
        var builder = RTPPacketBuilder(
            payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 0x1234,
            extensions: RTPHeaderExtensionBuilder(elements: [.init(id: 3, data: [0, 0])]), payload: vp8)
        let size = builder.marshalSize
        let count = 1000
        let packets = UnsafeMutableRawBufferPointer.allocate(byteCount: size * count, alignment: 8)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer {
            packets.deallocate()
            scratch.deallocate()
        }
        for i in 0..<count {
            builder.sequenceNumber = UInt16(truncatingIfNeeded: 65000 + i)
            _ = try builder.marshal(into: UnsafeMutableRawBufferPointer(rebasing: packets[(i * size)..<((i + 1) * size)]))
        }

        // Positive control: the counter sees allocations on this thread.
        let controlStart = giaoban_thread_allocations()
        let control = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        control.deallocate()
        #expect(giaoban_thread_allocations() > controlStart)

        var checksum: UInt32 = 0
        var failures = 0
        let start = giaoban_thread_allocations()
        for i in 0..<count {
            let src = UnsafeRawBufferPointer(rebasing: packets[(i * size)..<((i + 1) * size)])
            scratch.copyMemory(from: src)
            do throws(WireError) {
                let view = try RTPPacketView(src)
                let rw = try RTPHeaderRewrite(scratch, copyOf: view)
                rw.setSSRC(0xABCD)
                rw.setSequenceNumber(view.sequenceNumber &+ 100)
                rw.setTimestamp(view.timestamp &+ 3000)
                rw.setPayloadType(97)
                rw.setMarker(true)
                if let twcc = view.extensions.element(id: 3) {
                    try rw.setTransportSequenceNumber(UInt16(truncatingIfNeeded: i), in: twcc)
                }
                let descriptor = try VP8PayloadDescriptor(view.payload)
                try descriptor.setPictureID(UInt16(truncatingIfNeeded: i), in: rw.payload)
                checksum &+= UInt32(scratch[2]) << 8 | UInt32(scratch[3]) &+ UInt32(scratch[scratch.count - 2])
            } catch {
                failures += 1
            }
        }
        let allocations = giaoban_thread_allocations() - start
        #expect(failures == 0)
        #expect(checksum != 0)
        #expect(allocations == 0)
    }
}
