import Testing
import GiaobanRTP

@Suite("Packet cache: a byte ring indexed by sequence number")
struct PacketCacheRingTests {
    /// A fake packet of `length` bytes whose bytes name its sequence number.
    static func packet(_ sequence: UInt16, length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: Int(sequence) &+ $0) }
    }

    static func cached(_ cache: PacketCache, _ sequence: UInt16) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 2000)
        let n = out.withUnsafeMutableBytes { cache.copy(sequence: sequence, into: $0) }
        return n.map { Array(out.prefix($0)) }
    }

    @Test("what is kept is bounded by bytes: the newest packets that fit, every one intact, across wraps")
    func bytesBound() {
        let cache = PacketCache(capacity: 1024, slotSize: 1500, byteCapacity: 10_000)
        // Sizes vary so packets straddle the ring's end at different places.
        var sizes: [UInt16: Int] = [:]
        for sequence in UInt16(0)..<500 {
            let size = 200 + Int(sequence % 7) * 130
            sizes[sequence] = size
            Self.packet(sequence, length: size).withUnsafeBytes { #expect(cache.store($0, sequence: sequence)) }
        }
        var kept: [UInt16] = []
        for sequence in UInt16(0)..<500 {
            if let bytes = Self.cached(cache, sequence) {
                #expect(bytes == Self.packet(sequence, length: sizes[sequence]!), "packet \(sequence) intact")
                kept.append(sequence)
            }
        }
        let bytes = kept.reduce(0) { $0 + sizes[$1]! }
        #expect(bytes <= 10_000)
        #expect(bytes > 10_000 - 2 * 1500, "the ring is used: \(bytes) bytes in \(kept.count) packets")
        #expect(kept == Array(kept.first!..<500), "the newest, without holes: \(kept)")
    }

    @Test("the index bounds it too: the sequence number `capacity` later takes the entry; old and unknown numbers miss")
    func indexBound() {
        let cache = PacketCache(capacity: 4, slotSize: 100, byteCapacity: 100_000)
        for sequence in UInt16(10)..<20 {
            Self.packet(sequence, length: 50).withUnsafeBytes { _ = cache.store($0, sequence: sequence) }
        }
        #expect((10..<16).allSatisfy { Self.cached(cache, $0) == nil })
        #expect((16..<20).allSatisfy { Self.cached(cache, $0) == Self.packet($0, length: 50) })
        #expect(Self.cached(cache, 20) == nil && !cache.contains(20))
        // Too large for a slot: not stored, and the old entry is still there.
        #expect(!Self.packet(16, length: 101).withUnsafeBytes { cache.store($0, sequence: 16) })
        #expect(Self.cached(cache, 16) == Self.packet(16, length: 50))
        // Sequence numbers wrap around.
        for sequence in [UInt16(65_534), 65_535, 0, 1] {
            Self.packet(sequence, length: 60).withUnsafeBytes { _ = cache.store($0, sequence: sequence) }
        }
        #expect([UInt16(65_534), 65_535, 0, 1].allSatisfy { Self.cached(cache, $0) == Self.packet($0, length: 60) })
    }

    @Test("a buffer too small for the packet gets nothing")
    func smallBuffer() {
        let cache = PacketCache(capacity: 8, slotSize: 1500, byteCapacity: 4096)
        Self.packet(3, length: 900).withUnsafeBytes { _ = cache.store($0, sequence: 3) }
        var out = [UInt8](repeating: 0, count: 100)
        #expect(out.withUnsafeMutableBytes { cache.copy(sequence: 3, into: $0) } == nil)
    }
}
