/// The wait before a camera session's next connection attempt: 1 s after the first failure,
/// doubling up to 30 s, back to 1 s once the camera has been online.
public struct CameraBackoff: Sendable, Equatable {
    /// The first wait.
    public let initial: Duration
    /// The longest wait.
    public let maximum: Duration
    /// The wait `next()` returns.
    private var upcoming: Duration

    /// Creates a backoff from `initial` doubling to `maximum`.
    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
        upcoming = initial
    }

    /// The wait after one more failure.
    public mutating func next() -> Duration {
        let wait = upcoming
        upcoming = min(upcoming * 2, maximum)
        return wait
    }

    /// Starts over after a success.
    public mutating func reset() { upcoming = initial }
}
