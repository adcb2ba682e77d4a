import Foundation

/// Runs a test's blocking media loop (client sockets polled with timeouts, for seconds) on a
/// thread of its own and waits for it. On the cooperative pool such a loop holds one of its
/// threads, as many as the machine has cores, the whole time: on two cores two of them leave
/// none for the other tests running in parallel in the same process (the meeting rooms'
/// sockets, actors and bounded waits stall for seconds). The caller waits for `work`, so what
/// it captures is never used by two threads at once.
func offPool<T>(_ work: @escaping () throws -> T) async throws -> T {
    let job = Unchecked(work)
    let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Unchecked<T>, any Error>) in
        Thread { continuation.resume(with: Result { Unchecked(try job.value()) }) }.start()
    }
    return result.value
}

/// A value handed to the loop's thread and back while its owner waits (`offPool`).
private struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
