public import GiaobanWire
import Foundation

extension AudioLevelExtension {
    /// The level above which a frame counts as voice: −60 dBov. A simple energy detector,
    /// enough for a synthetic or file source; RFC 6464 §3 leaves the detector to the sender.
    public static let voiceThreshold: UInt8 = 60

    /// The client-to-mixer audio level of one frame of 16-bit PCM (RFC 6464 §3): the RMS
    /// level in −dBov, where 0 dBov is the RMS of a full-scale square wave, clamped to
    /// 0–127 (127 for digital silence), with the voice flag set above `voiceThreshold`.
    public init(measuring samples: some Collection<Int16>) {
        var sum = 0.0
        for s in samples { sum += Double(s) * Double(s) }
        let meanSquare = samples.isEmpty ? 0 : sum / (Double(samples.count) * 32768 * 32768)
        let level: UInt8
        if meanSquare <= 1e-13 {  // below −130 dBov
            level = 127
        } else {
            let dBov = 10 * log10(meanSquare)
            level = UInt8(min(127, max(0, (-dBov).rounded())))
        }
        self.init(level: level, voiceActivity: level <= Self.voiceThreshold)
    }
}
