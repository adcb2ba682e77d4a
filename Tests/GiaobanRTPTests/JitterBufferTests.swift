import Testing
import GiaobanRTP

/// What a jitter buffer released, for comparing.
private enum Released: Equatable {
    case packet(UInt16, [UInt8])
    case lost(UInt16, next: [UInt8]?)
}

private func drain(_ buffer: JitterBuffer, at now: ContinuousClock.Instant) -> [Released] {
    var out: [Released] = []
    buffer.release(now: now) { output in
        switch output {
        case .packet(let seq, _, _, let payload): out.append(.packet(seq, Array(payload)))
        case .lost(let seq, let next): out.append(.lost(seq, next: next.map { Array($0) }))
        }
    }
    return out
}

private func insert(_ buffer: JitterBuffer, _ seq: UInt16, at now: ContinuousClock.Instant) -> Bool {
    [UInt8(truncatingIfNeeded: seq)].withUnsafeBytes {
        buffer.insert(sequenceNumber: seq, timestamp: UInt32(seq) * 960, marker: false, payload: $0, now: now)
    }
}

@Suite("Jitter buffer: reorder, hold for the target delay, release in order, count late and lost")
struct JitterBufferTests {
    let t0 = ContinuousClock.now

    @Test("reordered packets come out in order, each only once its target delay has passed")
    func reorderAndHold() {
        let buffer = JitterBuffer(targetDelay: .milliseconds(50), capacity: 16)
        #expect(insert(buffer, 65534, at: t0))
        #expect(insert(buffer, 0, at: t0 + .milliseconds(1)))  // across the wrap, before 65535
        #expect(insert(buffer, 65535, at: t0 + .milliseconds(2)))
        #expect(drain(buffer, at: t0 + .milliseconds(49)).isEmpty, "held")
        #expect(drain(buffer, at: t0 + .milliseconds(50)) == [.packet(65534, [254])])
        #expect(drain(buffer, at: t0 + .milliseconds(52)) == [.packet(65535, [255]), .packet(0, [0])])
        #expect(buffer.counters.released == 3 && buffer.counters.lost == 0)
    }

    @Test("a gap is waited for while the packet after it is held, then released as lost with that packet's payload")
    func gapGivenUp() {
        let buffer = JitterBuffer(targetDelay: .milliseconds(50), capacity: 16)
        _ = insert(buffer, 10, at: t0)
        _ = insert(buffer, 13, at: t0 + .milliseconds(5))
        #expect(drain(buffer, at: t0 + .milliseconds(50)) == [.packet(10, [10])])
        #expect(drain(buffer, at: t0 + .milliseconds(54)).isEmpty, "11 and 12 may still come")
        #expect(insert(buffer, 11, at: t0 + .milliseconds(54)), "a retransmission in time")
        #expect(buffer.isSettled(11) && !buffer.isSettled(12))
        #expect(drain(buffer, at: t0 + .milliseconds(55)).isEmpty, "11 is held its own delay")
        let out = drain(buffer, at: t0 + .milliseconds(104))
        #expect(out == [.packet(11, [11]), .lost(12, next: [13]), .packet(13, [13])])
        #expect(buffer.counters.lost == 1)
        #expect(!insert(buffer, 12, at: t0 + .milliseconds(110)), "too late")
        #expect(buffer.counters.late == 1)
        #expect(buffer.isSettled(12))
    }

    @Test("duplicates are refused; a jump beyond the capacity starts over")
    func duplicatesAndJump() {
        let buffer = JitterBuffer(targetDelay: .zero, capacity: 8)
        _ = insert(buffer, 1, at: t0)
        #expect(!insert(buffer, 1, at: t0))
        #expect(buffer.counters.duplicates == 1)
        _ = insert(buffer, 100, at: t0)
        #expect(buffer.counters.resets == 1)
        #expect(drain(buffer, at: t0) == [.packet(100, [100])])
    }
}
