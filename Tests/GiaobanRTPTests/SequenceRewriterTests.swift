import GiaobanWire
import Testing
import GiaobanRTP

@Suite("Sequence rewriting for one subscriber")
struct SequenceRewriterTests {
    @Test("one source: offsets are constant, reordering passes through")
    func oneSource() {
        var r = SequenceRewriter(outputSSRC: 7, initialSequence: 1000, initialTimestamp: 5000)
        let a = r.rewrite(sequence: 40, timestamp: 90_000), b = r.rewrite(sequence: 42, timestamp: 93_000)
        let late = r.rewrite(sequence: 41, timestamp: 90_000)
        #expect(a! == (1000, 5000))
        #expect(b! == (1002, 8000))
        #expect(late! == (1001, 5000), "late packet keeps its place")
        #expect(r.lastOutputSequence == 1002)
    }

    @Test("wraparound of input and output sequence numbers")
    func wraparound() {
        var r = SequenceRewriter(outputSSRC: 1, initialSequence: 65_534)
        var outs: [UInt16] = []
        for seq: UInt16 in [65_533, 65_534, 65_535, 0, 1, 2] {
            outs.append(r.rewrite(sequence: seq, timestamp: 0)!.sequence)
        }
        #expect(outs == [65_534, 65_535, 0, 1, 2, 3])
    }

    @Test("switching sources continues the numbering and advances the timestamp by the gap")
    func switchSource() {
        var r = SequenceRewriter(outputSSRC: 9, initialSequence: 100, initialTimestamp: 0)
        _ = r.rewrite(sequence: 5000, timestamp: 1_000_000)
        _ = r.rewrite(sequence: 5001, timestamp: 1_003_000)
        // A new layer starts at unrelated numbers.
        r.switchSource(sequence: 60_000, timestamp: 7, timestampGap: 3000)
        let first = r.rewrite(sequence: 60_000, timestamp: 7), second = r.rewrite(sequence: 60_001, timestamp: 3007)
        #expect(first! == (102, 6000))
        #expect(second! == (103, 9000))
        // A straggler from before the switch point is refused rather than colliding.
        let straggler = r.rewrite(sequence: 59_999, timestamp: 0)
        #expect(straggler == nil)
    }

    @Test("skipping the newest packet leaves no gap; skipping an old one is refused")
    func skip() {
        var r = SequenceRewriter(outputSSRC: 3, initialSequence: 10)
        var outputs: [UInt16?] = []
        outputs.append(r.rewrite(sequence: 1, timestamp: 0)?.sequence)
        let skippedNewest = r.skip(sequence: 2)
        outputs.append(r.rewrite(sequence: 3, timestamp: 0)?.sequence)
        let skippedOld = r.skip(sequence: 2)
        outputs.append(r.rewrite(sequence: 4, timestamp: 0)?.sequence)
        #expect(skippedNewest)
        #expect(!skippedOld)
        #expect(outputs == [10, 11, 12])
    }
}

@Suite("Packet cache for retransmissions")
struct PacketCacheTests {
    @Test("stores, returns and evicts by sequence number")
    func storeAndEvict() {
        let cache = PacketCache(capacity: 4, slotSize: 32)
        #expect(cache.capacity == 4)
        func store(_ bytes: [UInt8], _ seq: UInt16) -> Bool { bytes.withUnsafeBytes { cache.store($0, sequence: seq) } }
        for seq: UInt16 in 65_534...65_535 { #expect(store([UInt8(seq & 0xff), 1, 2], seq)) }
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { out in
            #expect(cache.copy(sequence: 65_535, into: out) == 3)
            #expect(out[0] == 0xff)
            #expect(cache.copy(sequence: 1, into: out) == nil, "never stored")
        }
        // Four packets later the slot of 65534 holds 2.
        for seq: UInt16 in 0...2 { #expect(store([UInt8(seq)], seq)) }
        #expect(!cache.contains(65_534))
        #expect(cache.contains(2))
        #expect(!store([UInt8](repeating: 0, count: 33), 3), "larger than a slot")
    }
}

@Suite("Sequence rewriting when the publisher changes")
struct SequenceRewriterNewSourceTests {
    @Test("a new source announced in advance continues the output without a gap")
    func newSource() {
        var r = SequenceRewriter(outputSSRC: 5, initialSequence: 200, initialTimestamp: 1000)
        let a = r.rewrite(sequence: 10, timestamp: 50)
        r.expectNewSource(timestampGap: 3000)
        let b = r.rewrite(sequence: 40_000, timestamp: 777)
        let c = r.rewrite(sequence: 40_001, timestamp: 3777)
        #expect(a! == (200, 1000))
        #expect(b! == (201, 4000))
        #expect(c! == (202, 7000))
    }
}
