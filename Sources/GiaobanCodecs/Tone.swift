#if canImport(Glibc)
internal import Glibc
#else
internal import Darwin
#endif

/// A sine tone cut into 20 ms frames of 16-bit mono PCM at 48 kHz, phase-continuous
/// across frames: the synthetic microphone of an endpoint with no audio device.
public struct ToneGenerator: Sendable {
    /// Frequency in hertz.
    public let frequency: Double
    /// Peak amplitude as a fraction of full scale (0…1).
    public let amplitude: Double
    private var phase: Double = 0

    /// Creates a tone of `frequency` Hz at `amplitude` of full scale.
    public init(frequency: Double, amplitude: Double = 0.3) {
        self.frequency = frequency
        self.amplitude = amplitude
    }

    /// Creates a tone of `frequency` Hz whose RMS level is `dBov` (RFC 6464 §3: 0 dBov is
    /// the RMS of a full-scale square wave, so a full-scale sine is about −3 dBov). Levels
    /// below about −96 dBov round to digital silence; above −3 dBov the sine is clipped to full scale.
    public init(frequency: Double, dBov: Double) {
        self.init(frequency: frequency, amplitude: min(1, 2.0.squareRoot() * pow(10, dBov / 20)))
    }

    /// The next 20 ms (960 samples).
    public mutating func nextFrame() -> [Int16] {
        let n = OpusFormat.samplesPerFrame
        let step = 2 * Double.pi * frequency / Double(OpusFormat.sampleRate)
        var out = [Int16](repeating: 0, count: n)
        for i in 0..<n {
            out[i] = Int16((amplitude * 32767 * sin(phase)).rounded())
            phase += step
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
        }
        return out
    }
}

/// Spectral checks on decoded PCM, so tests and endpoint summaries can tell *which*
/// tone arrived rather than only that some bytes did.
public enum AudioAnalysis {
    /// Root-mean-square level of `samples` as a fraction of full scale.
    public static func rms(_ samples: [Int16]) -> Double {
        guard !samples.isEmpty else { return 0 }
        var sum = 0.0
        for s in samples { let v = Double(s) / 32768; sum += v * v }
        return (sum / Double(samples.count)).squareRoot()
    }

    /// Power of `frequency` in `samples` (Goertzel algorithm), normalised so a full-scale
    /// sine at that frequency gives about 0.25 and silence gives 0.
    public static func power(at frequency: Double, in samples: [Int16], sampleRate: Double = 48_000) -> Double {
        guard !samples.isEmpty else { return 0 }
        let w = 2 * Double.pi * frequency / sampleRate
        let coeff = 2 * cos(w)
        var s1 = 0.0, s2 = 0.0
        for x in samples {
            let s0 = Double(x) / 32768 + coeff * s1 - s2
            s2 = s1
            s1 = s0
        }
        let p = s1 * s1 + s2 * s2 - coeff * s1 * s2
        let n = Double(samples.count)
        return p / (n * n)
    }

    /// The strongest of `candidates` (Hz) in `samples`, with its share of the total
    /// candidate power; nil for silence.
    public static func dominant(of candidates: [Double], in samples: [Int16]) -> (frequency: Double, share: Double)? {
        let powers = candidates.map { power(at: $0, in: samples) }
        let total = powers.reduce(0, +)
        guard total > 1e-9, let best = powers.indices.max(by: { powers[$0] < powers[$1] }) else { return nil }
        return (candidates[best], powers[best] / total)
    }
}
