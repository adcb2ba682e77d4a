import GiaobanMixer
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
}
