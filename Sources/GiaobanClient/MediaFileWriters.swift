/// An IVF file in memory (the container of libvpx's tools): a 32-byte file header, then per
/// frame a 12-byte header (size, 64-bit timestamp, little-endian) and the frame.
/// Timestamps are in the RTP clock (time base 1/90000).
public struct IVFWriter: Sendable {
    /// The file so far; the frame count in the header is kept current.
    public private(set) var bytes: [UInt8]
    /// Frames written.
    public private(set) var frameCount: UInt32 = 0

    /// Starts a file for VP8 (`VP80`) pictures of the given size.
    public init(width: Int, height: Int, fourCC: String = "VP80") {
        bytes = Array("DKIF".utf8)
        Self.append16(&bytes, 0)  // version
        Self.append16(&bytes, 32)  // header size
        bytes += Array(fourCC.utf8.prefix(4))
        Self.append16(&bytes, UInt16(truncatingIfNeeded: width))
        Self.append16(&bytes, UInt16(truncatingIfNeeded: height))
        Self.append32(&bytes, 90_000)  // time base denominator
        Self.append32(&bytes, 1)  // time base numerator
        Self.append32(&bytes, 0)  // frame count
        Self.append32(&bytes, 0)  // unused
    }

    /// Appends one frame with its timestamp in 1/90000 s.
    public mutating func append(_ frame: [UInt8], timestamp: UInt64) {
        Self.append32(&bytes, UInt32(frame.count))
        Self.append32(&bytes, UInt32(truncatingIfNeeded: timestamp))
        Self.append32(&bytes, UInt32(truncatingIfNeeded: timestamp >> 32))
        bytes += frame
        frameCount += 1
        for i in 0..<4 { bytes[24 + i] = UInt8(truncatingIfNeeded: frameCount >> (8 * UInt32(i))) }
    }

    static func append16(_ out: inout [UInt8], _ v: UInt16) {
        out.append(UInt8(v & 0xFF))
        out.append(UInt8(v >> 8))
    }

    static func append32(_ out: inout [UInt8], _ v: UInt32) {
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
}

/// A WAV file (RIFF, PCM) of 16-bit mono samples at 48 kHz.
public enum WAVWriter {
    /// The whole file for `samples`: the 44-byte header, then the samples little-endian.
    public static func file(_ samples: [Int16], sampleRate: UInt32 = 48_000) -> [UInt8] {
        let dataSize = UInt32(samples.count * 2)
        var out: [UInt8] = Array("RIFF".utf8)
        IVFWriter.append32(&out, 36 + dataSize)
        out += Array("WAVEfmt ".utf8)
        IVFWriter.append32(&out, 16)  // fmt chunk size
        IVFWriter.append16(&out, 1)  // PCM
        IVFWriter.append16(&out, 1)  // mono
        IVFWriter.append32(&out, sampleRate)
        IVFWriter.append32(&out, sampleRate * 2)  // byte rate
        IVFWriter.append16(&out, 2)  // block align
        IVFWriter.append16(&out, 16)  // bits per sample
        out += Array("data".utf8)
        IVFWriter.append32(&out, dataSize)
        out.reserveCapacity(out.count + samples.count * 2)
        for s in samples { IVFWriter.append16(&out, UInt16(bitPattern: s)) }
        return out
    }
}
