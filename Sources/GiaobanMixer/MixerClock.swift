import Foundation
import GiaobanTransport
import Synchronization

/// A thread that calls `body` every `interval` on deadlines fixed from the start (start +
/// n × interval), so the time `body` takes and the sleep's overshoot never accumulate.
/// When it falls more than `maxLateTicks` deadlines behind (the machine stalled), it skips
/// the missed deadlines instead of running them back to back, and counts them.
///
/// ```swift
/// let clock = MixerClock(mixer: mixer) { output in media.post { router, now, out in sendMix(output, router, now, out) } }
/// clock.start()
/// …
/// clock.stop()   // returns once the thread has finished its last tick
/// ```
public final class MixerClock: Sendable {
    /// Counts since the start.
    public struct Counters: Sendable, Equatable {
        /// Ticks run.
        public var ticks = 0
        /// Deadlines skipped because the thread fell too far behind.
        public var skipped = 0
        /// Ticks that started after their deadline had passed by more than one interval.
        public var late = 0
    }

    private struct State {
        var running = false
        var stopRequested = false
        var counters = Counters()
    }

    /// Time between ticks.
    public let interval: Duration
    /// Deadlines the thread may fall behind before it skips.
    public let maxLateTicks: Int
    private let name: String
    private let body: @Sendable (_ skipped: Int) -> Void
    private let state = Mutex(State())
    private let finished = Mutex<DispatchSemaphore?>(nil)

    /// A clock calling `body` every `interval` on a thread called `name`, with the number of
    /// deadlines skipped just before this call (0 unless the thread fell far behind): a body
    /// that numbers its output by ticks advances its timestamps by them too.
    public init(interval: Duration, name: String = "giaoban-mixer", maxLateTicks: Int = 5,
                body: @escaping @Sendable (_ skipped: Int) -> Void) {
        precondition(interval > .zero && maxLateTicks > 0)
        self.interval = interval
        self.maxLateTicks = maxLateTicks
        self.name = name
        self.body = body
    }

    /// A 20 ms clock running `mixer`'s ticks and handing each output to `deliver` (on the
    /// clock's thread: deliver should only queue the packets for the media thread).
    public convenience init(mixer: AudioMixer, deliver: @escaping @Sendable (MixerOutput) -> Void) {
        self.init(interval: .milliseconds(20), name: "giaoban-audio-mixer") { skipped in deliver(mixer.tick(skipped: skipped)) }
    }

    /// Counters so far.
    public var counters: Counters { state.withLock { $0.counters } }

    /// True between `start` and the end of `stop`.
    public var isRunning: Bool { state.withLock { $0.running } }

    /// Starts the thread; does nothing when it runs already.
    public func start() {
        let begin = state.withLock { s -> Bool in
            guard !s.running else { return false }
            s.running = true
            s.stopRequested = false
            return true
        }
        guard begin else { return }
        let done = DispatchSemaphore(value: 0)
        finished.withLock { $0 = done }
        let thread = Thread { [self] in
            ThreadName.set(name)  // Foundation's name does not reach the OS thread (docs/udp-loop.md)
            run()
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Asks the thread to stop and waits (at most one interval plus one tick) until it has.
    public func stop() {
        let wasRunning = state.withLock { s -> Bool in
            s.stopRequested = true
            return s.running
        }
        guard wasRunning, let done = finished.withLock({ s -> DispatchSemaphore? in defer { s = nil }; return s }) else { return }
        done.wait()
        state.withLock { $0.running = false }
    }

    private func run() {
        let clock = ContinuousClock()
        var schedule = Schedule(start: clock.now, interval: interval, maxLateTicks: maxLateTicks)
        var skipped = 0
        while true {
            let wait = clock.now.duration(to: schedule.deadline)
            if wait > .zero { Thread.sleep(forTimeInterval: Self.seconds(wait)) }
            if state.withLock({ $0.stopRequested }) { return }
            body(skipped)
            let step = schedule.advance(now: clock.now)
            skipped = step.skipped
            state.withLock { s in
                s.counters.ticks += 1
                s.counters.late += step.late ? 1 : 0
                s.counters.skipped += step.skipped
            }
        }
    }

    /// The deadlines of a clock: start + n × interval, except that a clock more than
    /// `maxLateTicks` intervals behind skips to the first deadline still ahead.
    struct Schedule {
        /// When the next tick is due.
        private(set) var deadline: ContinuousClock.Instant
        let interval: Duration
        let maxLateTicks: Int

        init(start: ContinuousClock.Instant, interval: Duration, maxLateTicks: Int) {
            deadline = start + interval
            self.interval = interval
            self.maxLateTicks = maxLateTicks
        }

        /// Moves past the tick that just ended at `now`: whether it ended more than one
        /// interval after the next deadline, and how many deadlines were skipped.
        mutating func advance(now: ContinuousClock.Instant) -> (late: Bool, skipped: Int) {
            deadline += interval
            guard now - deadline > interval else { return (false, 0) }
            var skipped = 0
            if now - deadline > interval * maxLateTicks {
                // Far behind: drop the missed deadlines rather than bursting through them.
                while deadline < now {
                    deadline += interval
                    skipped += 1
                }
            }
            return (true, skipped)
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) * 1e-18
    }
}
