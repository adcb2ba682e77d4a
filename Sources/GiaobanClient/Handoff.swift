import Foundation

/// Moves a non-Sendable value to another thread that becomes its only user.
public struct Handoff<Value>: @unchecked Sendable {
    /// The value handed over; only the receiving side touches it afterwards.
    public let value: Value

    /// Wraps `value` for the move.
    public init(_ value: Value) { self.value = value }
}

/// Runs `body` on a thread of its own and returns its result: for blocking work (ICE and
/// DTLS connects, encoder set-up) that must stay off Swift's cooperative pool.
public func onOwnThread<T: Sendable>(name: String = "giaoban-client", _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = name
        thread.start()
    }
}
