#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The sample arithmetic of the audio mixer over 16-bit PCM: summing into a 32-bit
/// accumulator, writing a mix (optionally minus one contribution) back with saturation,
/// and measuring a frame's level. Index loops over caller buffers; nothing allocates.
public enum PCMMix {
    /// Adds `samples` into `sum` (same length).
    @inlinable
    public static func accumulate(_ samples: UnsafeBufferPointer<Int16>, into sum: UnsafeMutableBufferPointer<Int32>) {
        precondition(samples.count == sum.count)
        for i in 0..<sum.count { sum[i] &+= Int32(samples[i]) }
    }

    /// Writes `sum − minus` (or `sum` when `minus` is nil) into `out`, clamped to the
    /// 16-bit range: several loud speakers saturate instead of wrapping around.
    @inlinable
    public static func write(_ sum: UnsafeBufferPointer<Int32>, minus: UnsafeBufferPointer<Int16>?,
                             into out: UnsafeMutableBufferPointer<Int16>) {
        precondition(sum.count == out.count && (minus == nil || minus!.count == sum.count))
        if let minus {
            for i in 0..<out.count { out[i] = saturate(sum[i] &- Int32(minus[i])) }
        } else {
            for i in 0..<out.count { out[i] = saturate(sum[i]) }
        }
    }

    /// `value` clamped to `Int16`.
    @inlinable
    public static func saturate(_ value: Int32) -> Int16 {
        Int16(clamping: value)
    }

    /// The RFC 6464 §3 level of a frame: its RMS in −dBov, 0 (full scale) to 127 (silence
    /// or quieter than −127 dBov). A full-scale sine measures 3.
    public static func level(of samples: UnsafeBufferPointer<Int16>) -> UInt8 {
        guard !samples.isEmpty else { return 127 }
        var energy: Int64 = 0
        for i in 0..<samples.count {
            let s = Int64(samples[i])
            energy &+= s * s
        }
        guard energy > 0 else { return 127 }
        let meanSquare = Double(energy) / Double(samples.count) / (32768.0 * 32768.0)
        let dBov = 10 * log10(meanSquare)
        return UInt8(max(0, min(127, (-dBov).rounded())))
    }
}
