/// The round-trip arithmetic of sender and receiver reports (RFC 3550 §6.4.1): a receiver
/// echoes the middle 32 bits of the last SR's NTP timestamp (LSR) and the delay since that
/// SR arrived (DLSR, in 1/65536 s); the sender subtracts both from its own clock:
///
///     RTT = A − LSR − DLSR   (A: the sender's compact NTP time when the report arrived)
///
/// Everything in "compact NTP" units: 16 bits of seconds, 16 bits of fraction.
public enum RoundTripTime {
    /// The middle 32 bits of a 64-bit NTP timestamp (what LSR carries).
    @inlinable
    public static func compact(_ ntp: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: ntp >> 16) }

    /// `delay` in 1/65536 s (what DLSR carries), clamped to 32 bits; negative delays are 0.
    @inlinable
    public static func compactUnits(_ delay: Duration) -> UInt32 {
        let (seconds, attoseconds) = delay.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let units = seconds * 65_536 + Int64(Double(attoseconds) * 65_536e-18)
        return UInt32(clamping: units)
    }

    /// The round trip seen by the sender of an SR from a report block's LSR and DLSR, with
    /// `arrivalNTP` the sender's NTP time when the block arrived; nil when the block echoes
    /// no SR (LSR 0) or the result is negative (clocks or fields inconsistent).
    @inlinable
    public static func fromReport(lastSenderReport lsr: UInt32, delaySinceLastSenderReport dlsr: UInt32,
                                  arrivalNTP: UInt64) -> Duration? {
        guard lsr != 0 else { return nil }
        let rtt = Int64(Int32(bitPattern: compact(arrivalNTP) &- lsr &- dlsr))
        guard rtt >= 0 else { return nil }
        return .nanoseconds(rtt * 1_000_000_000 / 65_536)
    }
}
