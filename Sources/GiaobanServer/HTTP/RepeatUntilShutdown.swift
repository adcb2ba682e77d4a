import ServiceLifecycle

/// The body of a periodic service's `run`: `work` at once, then every `interval`, until
/// graceful shutdown (which ends the wait between two runs).
func repeatUntilShutdown(every interval: Duration, _ work: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            await work()
            try? await Task.sleep(for: interval)
        }
    }
}
