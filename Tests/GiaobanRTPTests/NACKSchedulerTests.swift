import Testing
import GiaobanRTP

@Suite("NACK scheduler: what to ask for again, how often, when to give up (RFC 4585 §6.2.1)")
struct NACKSchedulerTests {
    let t0 = ContinuousClock.now

    private func due(_ s: inout NACKScheduler, at now: ContinuousClock.Instant, rtt: Duration? = nil) -> ([UInt16], Int) {
        var out: [UInt16] = []
        let givenUp = s.due(now: now, roundTrip: rtt) { out.append($0) }
        return (out, givenUp)
    }

    @Test("a gap is asked for at once, then every max(RTT, minimum), at most maxRetries times, then given up")
    func retriesAndGiveUp() {
        var s = NACKScheduler(maxRetries: 2, minimumRetryInterval: .milliseconds(30))
        #expect(s.received(65534, now: t0) == .inOrder)
        #expect(s.received(1, now: t0) == .inOrder)  // 65535 and 0 missing, across the wrap
        #expect(due(&s, at: t0, rtt: .milliseconds(50)) == ([65535, 0], 0))
        #expect(due(&s, at: t0 + .milliseconds(20)) == ([], 0), "not before the retry interval")
        #expect(due(&s, at: t0 + .milliseconds(49), rtt: .milliseconds(50)) == ([], 0), "the round trip is longer")
        #expect(due(&s, at: t0 + .milliseconds(50), rtt: .milliseconds(50)) == ([65535, 0], 0))
        #expect(due(&s, at: t0 + .milliseconds(100), rtt: .milliseconds(50)) == ([], 2), "two requests each, then give up")
        #expect(s.counters.missing == 2 && s.counters.requested == 4 && s.counters.givenUp == 2 && s.pendingCount == 0)
    }

    @Test("an asked-for packet that arrives is a retransmission; one not yet asked for is reordering")
    func retransmissionCounted() {
        var s = NACKScheduler()
        _ = s.received(10, now: t0)
        _ = s.received(14, now: t0)
        #expect(s.received(11, now: t0) == .reordered)
        #expect(due(&s, at: t0).0 == [12, 13])
        #expect(s.received(13, now: t0) == .retransmission)
        #expect(s.counters.retransmissionsReceived == 1)
        s.forget(12)
        #expect(s.pendingCount == 0)
        #expect(s.received(12, now: t0) == .inOrder, "forgotten: no longer counted")
    }

    @Test("with maxRetries 0 a gap is given up at once (PLI only); a gap wider than the list asks for a keyframe")
    func noRetriesAndWideGap() {
        var s = NACKScheduler(maxRetries: 0, maxListed: 16)
        _ = s.received(1, now: t0)
        _ = s.received(3, now: t0)
        #expect(due(&s, at: t0) == ([], 1))
        #expect(s.received(100, now: t0) == .gapTooWide)
        #expect(s.pendingCount == 0 && s.counters.gapsTooWide == 1)
    }
}
