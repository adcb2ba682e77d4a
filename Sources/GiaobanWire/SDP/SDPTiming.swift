/// A `t=` line (RFC 8866 §5.9) with its `r=` repeat lines (§5.10); WebRTC always sends `t=0 0`.
public struct SDPTiming: Sendable, Hashable, CustomStringConvertible {
    /// Start time in NTP seconds, 0 for unbounded.
    public var start: UInt64
    /// Stop time in NTP seconds, 0 for unbounded.
    public var stop: UInt64
    /// The text after each `r=` that follows this `t=`, verbatim.
    public var repeats: [String]

    /// Creates a timing; the default is the permanent session `t=0 0`.
    public init(start: UInt64 = 0, stop: UInt64 = 0, repeats: [String] = []) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
    }

    /// Parses the text after `t=`: two decimal numbers.
    public init(parsing value: Substring) throws(WireError) {
        let f = SDPText.fields(value)
        guard f.count == 2 else { throw SDPText.error }
        start = try SDPText.number(f[0])
        stop = try SDPText.number(f[1])
        repeats = []
    }

    /// The text after `t=` (repeat lines are written separately).
    public var description: String { "\(start) \(stop)" }
}
