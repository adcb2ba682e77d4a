import GiaobanMixer
import Testing

@Suite("Playout buffer")
struct PlayoutBufferTests {
    /// What `pull` gave, as a comparable value.
    enum Pulled: Equatable {
        case packet(UInt16, UInt8)
        case lost(UInt16, nextHeld: Bool)
        case idle
    }

    static func pull(_ buffer: inout PlayoutBuffer) -> Pulled {
        switch buffer.pull() {
        case .packet(let seq, let payload): .packet(seq, payload.first ?? 0)
        case .lost(let seq, let next): .lost(seq, nextHeld: next != nil)
        case .idle: .idle
        }
    }

    static func insert(_ buffer: inout PlayoutBuffer, _ seq: UInt16) -> Bool {
        let byte = [UInt8(truncatingIfNeeded: seq)]
        return byte.withUnsafeBytes { buffer.insert(sequenceNumber: seq, payload: $0) }
    }

    @Test("playout starts after the delay and restores the order of reordered packets across the wrap")
    func order() {
        var b = PlayoutBuffer(delay: 2)
        var pulled: [Pulled] = []
        // Arrivals per tick: 65534, then 0 before 65535, then 1, 2 …
        let arrivals: [[UInt16]] = [[65_534], [0, 65_535], [1], [2], [], []]
        for batch in arrivals {
            for seq in batch { #expect(Self.insert(&b, seq)) }
            pulled.append(Self.pull(&b))
        }
        #expect(pulled == [.idle, .idle, .packet(65_534, 254), .packet(65_535, 255), .packet(0, 0), .packet(1, 1)])
        let late = b.counters.late
        #expect(late == 0)
    }

    @Test("a gap is lost with the following packet when held; a packet after its tick is late")
    func gap() {
        var b = PlayoutBuffer(delay: 1)
        _ = Self.insert(&b, 10)
        #expect(Self.pull(&b) == .idle)
        _ = Self.insert(&b, 12)
        #expect(Self.pull(&b) == .packet(10, 10))
        #expect(Self.pull(&b) == .lost(11, nextHeld: true))
        #expect(!Self.insert(&b, 11))
        let late = b.counters.late
        #expect(late == 1)
        #expect(Self.pull(&b) == .packet(12, 12))
    }

    @Test("a source that stops is concealed a few ticks, then idle until its next packet, whatever its number")
    func stop() {
        var b = PlayoutBuffer(delay: 0, idleAfter: 3)
        _ = Self.insert(&b, 1)
        #expect(Self.pull(&b) == .packet(1, 1))
        #expect(Self.pull(&b) == .lost(2, nextHeld: false))
        #expect(Self.pull(&b) == .lost(3, nextHeld: false))
        #expect(Self.pull(&b) == .idle)
        let playing = b.isPlaying
        #expect(!playing)
        // The sender restarted with lower sequence numbers: still played.
        _ = Self.insert(&b, 65_000)
        #expect(Self.pull(&b) == .packet(65_000, 232))
        #expect(Self.pull(&b) == .lost(65_001, nextHeld: false))
        let underruns = b.counters.underruns
        #expect(underruns == 4)
    }

    @Test("a burst beyond the delay is trimmed so latency stays bounded")
    func burst() {
        var b = PlayoutBuffer(delay: 1)
        _ = Self.insert(&b, 0)
        #expect(Self.pull(&b) == .idle)
        for seq: UInt16 in 1...8 { _ = Self.insert(&b, seq) }
        #expect(Self.pull(&b) == .packet(5, 5))
        let skipped = b.counters.skipped
        #expect(skipped == 5)
    }
}
