import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Runs a handler each time the process receives `signal` (e.g. SIGHUP to reload the TLS
/// certificate), instead of the signal's default action, until cancelled.
public final class SignalWatch: @unchecked Sendable {
    // @unchecked: a dispatch source may be cancelled from any thread; nothing else is mutable.
    private let source: any DispatchSourceSignal

    /// Watches `signal`; `handler` runs on a utility queue.
    public init(signal number: Int32, handler: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global(qos: .utility))
        source.setEventHandler(handler: handler)
        source.resume()
        self.source = source
    }

    /// Stops watching (the signal stays ignored).
    public func cancel() { source.cancel() }
}
