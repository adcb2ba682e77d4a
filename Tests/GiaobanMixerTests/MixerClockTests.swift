@testable import GiaobanMixer
import Synchronization
import Testing

@Suite("Mixer clock")
struct MixerClockTests {
    @Test("runs the mixer's ticks on its own thread, delivers outputs, and stops cleanly")
    func startStop() async throws {
        let mixer = try AudioMixer()
        mixer.setListeners(["a"])
        let delivered = Mutex<[UInt64]>([])
        let clock = MixerClock(mixer: mixer) { output in delivered.withLock { $0.append(output.tick) } }
        clock.start()
        #expect(clock.isRunning)
        // Wait (bounded) for a few ticks; no timing is asserted.
        for _ in 0..<500 where delivered.withLock({ $0.count }) < 5 {
            try await Task.sleep(for: .milliseconds(10))
        }
        clock.stop()
        #expect(!clock.isRunning)
        let ticks = delivered.withLock { $0 }
        #expect(ticks.count >= 5)
        #expect(ticks == Array(0..<UInt64(ticks.count)), "ticks in order, none run twice")
        #expect(clock.counters.ticks == ticks.count)
        try await Task.sleep(for: .milliseconds(60))
        #expect(delivered.withLock { $0.count } == ticks.count, "nothing runs after stop")
    }

    @Test("deadlines stay on start + n × interval whatever each tick takes; far behind, missed ones are skipped")
    func schedule() {
        let t0 = ContinuousClock.now
        let interval = Duration.milliseconds(20)
        var s = MixerClock.Schedule(start: t0, interval: interval, maxLateTicks: 5)
        for n in 1...100 {
            // Each tick starts at its deadline and takes 7 ms.
            let step = s.advance(now: t0 + interval * n + .milliseconds(7))
            #expect(!step.late && step.skipped == 0)
        }
        #expect(s.deadline == t0 + interval * 101, "no drift after 100 ticks")
        // A tick ending 30 ms past the next deadline is late, but the clock catches up.
        var step = s.advance(now: t0 + interval * 102 + .milliseconds(30))
        #expect(step.late && step.skipped == 0 && s.deadline == t0 + interval * 102)
        // A stall of 300 ms: the missed deadlines are skipped, the grid is kept.
        step = s.advance(now: t0 + interval * 103 + .milliseconds(310))
        #expect(step.late && step.skipped == 16)
        #expect(s.deadline == t0 + interval * 119)
    }
}

@Suite("Mixed streams' timestamps follow the wall clock")
struct MixedTimestampTests {
    @Test("ticks a late clock skipped advance the listeners' timestamps by their samples; the sequence stays contiguous")
    func audioSkips() throws {
        let mixer = try AudioMixer()
        mixer.setListeners(["listener"])
        var feed = try AudioFeed(name: "a", frequency: 500, firstSequence: 100)
        var packets: [(sequence: UInt16, timestamp: UInt32)] = []
        for tick in 0..<12 {
            mixer.push("a", try feed.next())
            let out = mixer.tick(skipped: tick == 8 ? 3 : 0)
            if let p = out.listeners.first(where: { $0.listener == "listener" }) { packets.append((p.sequenceNumber, p.timestamp)) }
        }
        #expect(packets.count == 12)
        for i in 1..<packets.count {
            #expect(packets[i].sequence == packets[i - 1].sequence &+ 1)
            #expect(packets[i].timestamp == packets[i - 1].timestamp &+ (i == 8 ? 4 * 960 : 960), "at \(i)")
        }
    }

    @Test("a composed picture's timestamp is its time since the first picture at 90 kHz, not its frame count")
    func videoByClock() throws {
        let compositor = try VideoCompositor(settings: VideoCompositorTests.settings())
        let t0 = ContinuousClock.now
        let times: [Duration] = [.zero, .milliseconds(66), .milliseconds(133), .milliseconds(633), .milliseconds(633)]
        let stamps = times.map { compositor.compose(now: t0 + $0).timestamp }
        #expect(stamps[1] &- stamps[0] == 5_940 && stamps[2] &- stamps[0] == 11_970)
        #expect(stamps[3] &- stamps[2] == 45_000, "a half-second gap (a stalled clock) is half a second of picture time")
        #expect(stamps[4] &- stamps[3] == 1, "two pictures at the same instant still get increasing timestamps")
    }
}
