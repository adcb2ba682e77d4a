import Glibc

/// The wall clock as RTCP wants it.
enum WallClock {
    /// Now as a 64-bit NTP timestamp (RFC 5905 §6: seconds since 1900, 32-bit fraction).
    static func ntpNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let fraction = (UInt64(now.tv_nsec) << 32) / 1_000_000_000
        return (UInt64(now.tv_sec) + 2_208_988_800) << 32 | fraction
    }
}
