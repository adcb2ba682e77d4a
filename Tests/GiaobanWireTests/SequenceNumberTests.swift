import GiaobanWire
import Testing

/// Tests of this file, grouped so their names stay local to it.
@Suite struct SequenceNumberTests {}

// Serial-number arithmetic (RFC 1982) on the wrapping counters of RTP and its payloads.

private typealias Pic15 = Serial<PictureID15>
private typealias TL0 = Serial<TL0PicIdx8>

// MARK: - 16-bit sequence numbers (RFC 3550 §5.1)

extension SequenceNumberTests {
    @Test(arguments: [
        (UInt16(0), UInt16(1), Int64(1)),
        (65535, 0, 1),  // across the wrap
        (0, 65535, -1),  // backwards across the wrap
        (65500, 36, 72),
        (100, 100, 0),
        (0, 32767, 32767),  // largest forward step
        (0, 32769, -32767),  // one beyond half: behind
        (0, 32768, 32768),  // exactly half: counts as ahead
        (32768, 0, 32768),  // ... in both directions
    ])
    func seqDistance(from a: UInt16, to b: UInt16, expected: Int64) {
        #expect(RTPSeq.distance(from: a, to: b) == expected)
    }

    @Test func seqNewerAcrossTheWrap() {
        #expect(RTPSeq.isNewer(0, than: 65535))
        #expect(!RTPSeq.isNewer(65535, than: 0))
        #expect(RTPSeq.isNewer(10, than: 65530))
        #expect(!RTPSeq.isNewer(5, than: 5))
        #expect(RTPSeq.isNewer(32767, than: 0))
        #expect(!RTPSeq.isNewer(32769, than: 0))
        // A raw comparison gets the wrap wrong; serial arithmetic does not.
        let older: UInt16 = 65534
        let newer: UInt16 = 3
        #expect(newer < older)
        #expect(RTPSeq.isNewer(newer, than: older))
    }

    @Test(arguments: seqAddCases)
    func seqAdd(_ a: UInt16, _ delta: Int64, expected: UInt16) {
        #expect(RTPSeq.add(a, delta) == expected)
    }
}

/// (start, delta, expected) for `RTPSeq.add`.
private let seqAddCases: [(UInt16, Int64, UInt16)] = [
    (65535, 1, 0),
    (0, -1, 65535),
    (65000, 1000, 464),
    (5, 65536 * 3 + 2, 7),  // several whole wraps
    (5, -65536 * 2 - 6, 65535),
    (1234, 0, 1234),
]

// MARK: - 32-bit timestamps

extension SequenceNumberTests {
    @Test func timestampsWrapAt32Bits() {
        #expect(RTPTime.distance(from: 0xFFFF_FFF0, to: 0x10) == 0x20)
        #expect(RTPTime.distance(from: 0x10, to: 0xFFFF_FFF0) == -0x20)
        #expect(RTPTime.isNewer(0x0000_0BB8, than: 0xFFFF_F448))  // 3000 after -3000
        #expect(!RTPTime.isNewer(0x8000_0001, than: 0))  // more than half the range: behind
        #expect(RTPTime.isNewer(0x7FFF_FFFF, than: 0))
        #expect(RTPTime.add(0xFFFF_FFFF, 90000) == 89999)
        #expect(RTPTime.add(0, -1) == 0xFFFF_FFFF)
        #expect(RTPTime.distance(from: 0, to: 0x8000_0000) == 0x8000_0000)
    }
}

// MARK: - 15-bit picture IDs (RFC 7741 §4.2, M=1)

extension SequenceNumberTests {
    @Test func pictureIDsWrapAt15Bits() {
        #expect(Pic15.modulus == 32768)
        #expect(Pic15.mask == 0x7FFF)
        #expect(Pic15.distance(from: 0x7FFF, to: 0) == 1)
        #expect(Pic15.distance(from: 0, to: 0x7FFF) == -1)
        #expect(Pic15.isNewer(2, than: 0x7FFE))
        #expect(Pic15.add(0x7FFF, 1) == 0)
        #expect(Pic15.add(0, -1) == 0x7FFF)
        #expect(Pic15.add(100, 32768 * 5) == 100)
        // The M bit that shares the field's top byte is not part of the value.
        #expect(Pic15.distance(from: 0x8000, to: 0x0001) == 1)
        #expect(Pic15.distance(from: 0xFFFF, to: 0x8000) == 1)
        #expect(Pic15.distance(from: 0, to: 16384) == 16384)
        #expect(Pic15.distance(from: 0, to: 16385) == -16383)
    }
}

// MARK: - 8-bit TL0PICIDX

extension SequenceNumberTests {
    @Test func tl0PicIdxWrapsAt8Bits() {
        #expect(TL0.distance(from: 255, to: 0) == 1)
        #expect(TL0.distance(from: 0, to: 255) == -1)
        #expect(TL0.isNewer(3, than: 250))
        #expect(!TL0.isNewer(250, than: 3))
        #expect(TL0.add(255, 1) == 0)
        #expect(TL0.add(0, -1) == 255)
        #expect(TL0.add(10, 256 * 7 + 1) == 11)
        #expect(TL0.distance(from: 0, to: 128) == 128)
        #expect(TL0.distance(from: 0, to: 129) == -127)
    }
}

// MARK: - Unwrapping

extension SequenceNumberTests {
    @Test func unwrapsSequenceNumbersAcrossOneWrap() {
        var u = SerialUnwrapper<SeqNum16>()
        #expect([65534, 65535, 0, 1].map { u.unwrap($0) } == [65534, 65535, 65536, 65537])
    }

    @Test func unwrapsAcrossSeveralWraps() {
        var u = SerialUnwrapper<SeqNum16>()
        var expected: Int64 = 40000
        var ok = true
        while expected < 65536 * 5 + 123 {
            if u.unwrap(UInt16(truncatingIfNeeded: expected)) != expected { ok = false }
            expected += 9973  // steps well below half the range
        }
        #expect(ok)
        #expect(expected > 65536 * 5)
    }

    @Test func unwrapsReorderedPackets() {
        var u = SerialUnwrapper<SeqNum16>()
        // Late packets from before a wrap keep their place; they do not move the reference.
        let arrivals: [UInt16] = [65533, 65535, 1, 65534, 0, 2, 65532, 3]
        let expected: [Int64] = [65533, 65535, 65537, 65534, 65536, 65538, 65532, 65539]
        #expect(arrivals.map { u.unwrap($0) } == expected)
    }

    @Test func unwrapsReorderingOverManyWraps() {
        // Swap neighbours pairwise so every other packet is late, over five wraps.
        var u = SerialUnwrapper<SeqNum16>()
        var mismatches = 0
        var n: Int64 = 0
        while n < 65536 * 5 {
            for v in [n + 1, n] where u.unwrap(UInt16(truncatingIfNeeded: v)) != v {
                mismatches += 1
            }
            n += 2
        }
        #expect(mismatches == 0)
    }

    @Test func unwrapBeforeTheFirstValueGoesNegative() {
        var u = SerialUnwrapper<SeqNum16>()
        #expect(u.unwrap(0) == 0)
        #expect(u.unwrap(65535) == -1)
        #expect(u.unwrap(1) == 1)
    }

    @Test func peekDoesNotRecord() {
        var u = SerialUnwrapper<SeqNum16>()
        _ = u.unwrap(65535)
        #expect(u.peek(0) == 65536)
        #expect(u.peek(0) == 65536)
        #expect(u.peek(65535 &- 30000) == 35535)
        #expect(u.unwrap(30000) == 95536)  // ahead by 30001
        #expect(u.peek(60000) == 125536)
        #expect(u.peek(0) == 65536)  // now behind
    }

    @Test func unwrapsTimestampsPast32Bits() {
        var u = SerialUnwrapper<Timestamp32>()
        #expect(u.unwrap(0xFFFF_0000) == 0xFFFF_0000)
        #expect(u.unwrap(0x0000_1000) == 0x1_0000_1000)
        #expect(u.unwrap(0xFFFF_F000) == 0xFFFF_F000)  // late
        #expect(u.unwrap(0x8000_0000) == 0x1_8000_0000)
        #expect(u.unwrap(0x0000_0000) == 0x2_0000_0000)  // exactly half ahead of the last
    }

    @Test func unwrapsPictureIDsAndTL0PicIdx() {
        var p = SerialUnwrapper<PictureID15>()
        var t = SerialUnwrapper<TL0PicIdx8>()
        var pictureOK = true
        var tl0OK = true
        for i in Int64(32760)..<Int64(32768 * 3) {
            if p.unwrap(UInt16(truncatingIfNeeded: i) & 0x7FFF) != i { pictureOK = false }
        }
        for i in Int64(250)..<Int64(256 * 4) {
            if t.unwrap(UInt8(truncatingIfNeeded: i)) != i { tl0OK = false }
        }
        #expect(pictureOK)
        #expect(tl0OK)
        #expect(t.unwrap(255) == 1023)  // late by one
        #expect(t.unwrap(1) == 1025)
    }
}
