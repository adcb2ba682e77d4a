/// Serial-number arithmetic (RFC 1982) for wrapping counters: RTP sequence numbers
/// (16 bits), RTP timestamps (32 bits), VP8 picture IDs (7 or 15 bits), TL0PICIDX (8 bits),
/// TWCC sequence numbers (16 bits).
///
/// A raw `<` on a wrapping counter is a bug; compare with `isNewer(_:than:)` and measure
/// with `distance(from:to:)`.
public protocol WrappingCounter {
    /// The storage integer.
    associatedtype Value: FixedWidthInteger & UnsignedInteger
    /// How many bits of `Value` are used (e.g. 15 for a VP8 long picture ID).
    static var bits: Int { get }
}

/// Serial arithmetic over `Counter.bits` bits of `Counter.Value`.
public enum Serial<Counter: WrappingCounter> {
    /// The number of distinct values, 2^bits, as a 64-bit integer.
    @inlinable public static var modulus: Int64 { Int64(1) << Int64(Counter.bits) }

    /// The mask keeping the low `bits` bits.
    @inlinable public static var mask: Counter.Value {
        Counter.Value(truncatingIfNeeded: modulus - 1)
    }

    /// The signed shortest distance from `a` to `b`: positive when `b` is ahead of `a`.
    /// Exactly half the range apart counts as ahead (positive).
    @inlinable
    public static func distance(from a: Counter.Value, to b: Counter.Value) -> Int64 {
        let m = modulus
        var d = (Int64(b & mask) - Int64(a & mask)) % m
        if d < 0 { d += m }
        return d > m / 2 ? d - m : d
    }

    /// True when `a` is strictly ahead of `b` (RFC 1982 §3.2, with the half-range case ahead).
    @inlinable
    public static func isNewer(_ a: Counter.Value, than b: Counter.Value) -> Bool {
        distance(from: b, to: a) > 0
    }

    /// `a` advanced by `delta` (which may be negative), wrapped to `bits`.
    @inlinable
    public static func add(_ a: Counter.Value, _ delta: Int64) -> Counter.Value {
        var r = (Int64(a & mask) + delta) % modulus
        if r < 0 { r += modulus }
        return Counter.Value(truncatingIfNeeded: r)
    }
}

/// Extends wrapping values to a monotonic 64-bit count: feed values in arrival order,
/// get each value's position in an unwrapped sequence (reordering within half the range is fine).
public struct SerialUnwrapper<Counter: WrappingCounter>: Sendable {
    @usableFromInline var last: Int64?

    /// Creates an unwrapper that has seen nothing yet.
    @inlinable public init() { last = nil }

    /// The unwrapped value of `value`; the first value maps to itself.
    @inlinable
    public mutating func unwrap(_ value: Counter.Value) -> Int64 {
        guard let previous = last else {
            let v = Int64(value & Serial<Counter>.mask)
            last = v
            return v
        }
        let prevWrapped = Counter.Value(truncatingIfNeeded: previous & (Serial<Counter>.modulus - 1))
        let result = previous + Serial<Counter>.distance(from: prevWrapped, to: value)
        if result > previous { last = result }
        return result
    }

    /// The unwrapped value a new `value` would get, without recording it.
    @inlinable
    public func peek(_ value: Counter.Value) -> Int64 {
        var copy = self
        return copy.unwrap(value)
    }
}

/// RTP sequence numbers (RFC 3550 §5.1) and TWCC sequence numbers: 16 bits.
public enum SeqNum16: WrappingCounter { public typealias Value = UInt16; public static var bits: Int { 16 } }
/// RTP timestamps (RFC 3550 §5.1): 32 bits.
public enum Timestamp32: WrappingCounter { public typealias Value = UInt32; public static var bits: Int { 32 } }
/// VP8 15-bit picture ID (RFC 7741 §4.2, M=1).
public enum PictureID15: WrappingCounter { public typealias Value = UInt16; public static var bits: Int { 15 } }
/// VP8 TL0PICIDX (RFC 7741 §4.2): 8 bits.
public enum TL0PicIdx8: WrappingCounter { public typealias Value = UInt8; public static var bits: Int { 8 } }

/// Serial arithmetic on RTP sequence numbers.
public typealias RTPSeq = Serial<SeqNum16>
/// Serial arithmetic on RTP timestamps.
public typealias RTPTime = Serial<Timestamp32>
