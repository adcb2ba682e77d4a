/// Keyframe requests with a floor on how often they are served: a request made within
/// `minimumInterval` of the last keyframe waits until that interval has passed, and any
/// number of requests made meanwhile are served by one keyframe. Used for the compositor's
/// own output (receivers' PLI/FIR, RFC 4585 §6.3.1, RFC 5104 §4.3.1) and for the keyframes
/// it asks of its sources. Time comes from the caller.
public struct KeyframeThrottle: Sendable, Equatable {
    /// The shortest time between two keyframes served.
    public let minimumInterval: Duration
    /// A request is waiting.
    public private(set) var pending = false
    /// Requests that were merged into one already waiting or held back by the interval.
    public private(set) var throttled = 0
    private var last: ContinuousClock.Instant?

    /// A throttle serving at most one keyframe per `minimumInterval`.
    public init(minimumInterval: Duration) {
        self.minimumInterval = minimumInterval
    }

    /// Records a request made at `now`.
    public mutating func request(now: ContinuousClock.Instant) {
        if pending || last.map({ now - $0 < minimumInterval }) == true { throttled += 1 }
        pending = true
    }

    /// True when a request is waiting and the interval since the last keyframe has passed.
    public func isDue(now: ContinuousClock.Instant) -> Bool {
        pending && last.map { now - $0 >= minimumInterval } != false
    }

    /// Records a keyframe made at `now` (requested or not): it serves any waiting request.
    public mutating func keyframeSent(now: ContinuousClock.Instant) {
        last = now
        pending = false
    }
}
