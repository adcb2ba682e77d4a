import Foundation
import Synchronization

/// A named thread running a loop until asked to stop: the lifecycle shared by the bench's
/// forwarder and receive loops.
final class LoopThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)

    /// True until `stop` is called; the loop checks it every iteration.
    var isRunning: Bool { running.load(ordering: .relaxed) }

    /// Starts `body` on a new thread named `name`.
    func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            body()
            finished.store(true, ordering: .releasing)
        }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to stop and waits for it (at most 2 s).
    func stop() {
        running.store(false, ordering: .relaxed)
        let deadline = nowNanoseconds() + 2_000_000_000
        while !finished.load(ordering: .acquiring) && nowNanoseconds() < deadline { sleep(seconds: 0.005) }
    }
}
