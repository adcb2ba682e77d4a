#if canImport(Glibc)
import Glibc
#endif
public import Logging
public import ServiceLifecycle
import Synchronization

/// Bounds a graceful shutdown: once SIGTERM/SIGINT starts it, the process ends within
/// `security.shutdown_timeout_s` whatever clients do. If the services have not finished by
/// then, the media plane is stopped (its UDP socket closed) and the process exits, so that a
/// new server can bind the same ports at once.
public struct ShutdownWatchdog: Service, CustomStringConvertible {
    let timeout: Duration
    let media: MediaServer?
    let logger: Logger

    /// A watchdog that stops `media` and exits `timeout` after shutdown began.
    public init(timeout: Duration, media: MediaServer?, logger: Logger) {
        self.timeout = timeout
        self.media = media
        self.logger = logger
    }

    /// How the service group logs it.
    public var description: String { "ShutdownWatchdog(\(timeout))" }

    /// Waits for the graceful shutdown, arms the deadline, and returns.
    public func run() async throws {
        // Cancelled instead: the group is ending because a service failed, nothing to bound.
        do { try await gracefulShutdown() } catch { return }
        let (timeout, media, logger) = (timeout, media, logger)
        Task.detached {
            try? await Task.sleep(for: timeout)
            logger.warning("shutdown took longer than security.shutdown_timeout_s: closing the media socket and exiting",
                           metadata: ["timeout": "\(timeout)"])
            let stopped = StoppedFlag()
            Task.detached {
                await media?.shutdown()
                stopped.value.store(true, ordering: .releasing)
            }
            // The media thread stops within milliseconds; never wait for it longer than a second.
            for _ in 0..<100 {
                if stopped.value.load(ordering: .acquiring) { break }
                try? await Task.sleep(for: .milliseconds(10))
            }
            _exit(0)
        }
    }

    /// Runs `services` with the watchdog until SIGTERM or SIGINT has shut them down.
    public static func run(_ services: [any Service], timeout: Duration, media: MediaServer?, logger: Logger) async throws {
        // Graceful shutdown reaches services in reverse order: the watchdog, last, hears it first.
        let group = ServiceGroup(configuration: .init(
            services: services + [ShutdownWatchdog(timeout: timeout, media: media, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Set once the media plane has stopped.
private final class StoppedFlag: Sendable {
    let value = Atomic(false)
}
