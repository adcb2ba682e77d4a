/// The table-of-contents byte of an Opus packet and the frame count it implies
/// (RFC 6716 §3.1, §3.2.5), enough for a relay to know a packet's mode, bandwidth and
/// duration without decoding it.
///
/// ```
///  0 1 2 3 4 5 6 7        code 3 only:  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+                     +-+-+-+-+-+-+-+-+
/// | config  |s| c |                     |v|p|     M     |
/// +-+-+-+-+-+-+-+-+                     +-+-+-+-+-+-+-+-+
/// ```
public struct OpusTOC: Sendable, Equatable {
    /// The coding mode of a configuration (RFC 6716 §3.1, Table 2).
    public enum Mode: Sendable, Equatable {
        /// SILK-only (configs 0–11).
        case silk
        /// Hybrid SILK + CELT (configs 12–15).
        case hybrid
        /// CELT-only (configs 16–31).
        case celt
    }

    /// The audio bandwidth of a configuration (RFC 6716 §2, Table 1).
    public enum Bandwidth: Sendable, Equatable {
        /// NB, 4 kHz.
        case narrowband
        /// MB, 6 kHz.
        case mediumband
        /// WB, 8 kHz.
        case wideband
        /// SWB, 12 kHz.
        case superwideband
        /// FB, 20 kHz.
        case fullband
    }

    /// The longest packet duration Opus allows: 120 ms at 48 kHz (RFC 6716 §3.2.5).
    public static let maximumPacketSamples = 5760

    /// The TOC byte.
    public let toc: UInt8
    /// The number of frames in the packet: 1 (code 0), 2 (codes 1, 2) or M (code 3, 1–48).
    public let frameCount: Int
    /// Code 3 only: v, frames have different sizes.
    public let isVariableBitrate: Bool
    /// Code 3 only: p, padding length bytes follow.
    public let hasPadding: Bool

    /// config: 0–31, the index into RFC 6716 Table 2.
    @inlinable public var config: UInt8 { toc >> 3 }
    /// s: the packet is stereo.
    @inlinable public var isStereo: Bool { toc & 0x04 != 0 }
    /// c: the frame count code 0–3.
    @inlinable public var frameCountCode: UInt8 { toc & 0x03 }
    /// The coding mode.
    @inlinable public var mode: Mode { Self.mode(config: config) }
    /// The audio bandwidth.
    @inlinable public var bandwidth: Bandwidth { Self.bandwidth(config: config) }
    /// The duration of one frame in samples at 48 kHz (120 = 2.5 ms … 2880 = 60 ms).
    @inlinable public var frameSamples: Int { Self.frameSamples(config: config) }
    /// The packet's duration in samples at 48 kHz.
    @inlinable public var durationSamples: Int { frameSamples * frameCount }

    /// Reads the TOC (and, for code 3, the frame count byte) of an Opus packet.
    /// Throws `.truncated` for an empty packet or a code 3 packet without its count byte,
    /// `.badValue` for a code 3 count of 0 or a total duration above 120 ms.
    @inlinable
    public init(_ packet: UnsafeRawBufferPointer) throws(WireError) {
        guard packet.count >= 1 else { throw WireError(.truncated, "Opus TOC") }
        let toc = packet[0]
        self.toc = toc
        switch toc & 0x03 {
        case 0:
            frameCount = 1
            isVariableBitrate = false
            hasPadding = false
        case 1, 2:
            frameCount = 2
            isVariableBitrate = toc & 0x03 == 2
            hasPadding = false
        default:
            guard packet.count >= 2 else { throw WireError(.truncated, "Opus frame count byte") }
            let b = packet[1]
            frameCount = Int(b & 0x3F)
            isVariableBitrate = b & 0x80 != 0
            hasPadding = b & 0x40 != 0
            guard frameCount > 0 else { throw WireError(.badValue, "Opus frame count") }
        }
        guard Self.frameSamples(config: toc >> 3) * frameCount <= Self.maximumPacketSamples else {
            throw WireError(.badValue, "Opus packet duration")
        }
    }

    /// The coding mode of `config` (0–31).
    @inlinable
    public static func mode(config: UInt8) -> Mode {
        switch config & 0x1F {
        case 0...11: return .silk
        case 12...15: return .hybrid
        default: return .celt
        }
    }

    /// The bandwidth of `config` (0–31).
    @inlinable
    public static func bandwidth(config: UInt8) -> Bandwidth {
        switch config & 0x1F {
        case 0...3: return .narrowband
        case 4...7: return .mediumband
        case 8...11: return .wideband
        case 12...13: return .superwideband
        case 14...15: return .fullband
        case 16...19: return .narrowband
        case 20...23: return .wideband
        case 24...27: return .superwideband
        default: return .fullband
        }
    }

    /// The frame duration of `config` (0–31) in samples at 48 kHz.
    @inlinable
    public static func frameSamples(config: UInt8) -> Int {
        let c = config & 0x1F
        switch c {
        case 0...11:  // SILK: 10, 20, 40, 60 ms
            switch c & 0x03 {
            case 0: return 480
            case 1: return 960
            case 2: return 1920
            default: return 2880
            }
        case 12...15:  // Hybrid: 10, 20 ms
            return c & 0x01 == 0 ? 480 : 960
        default:  // CELT: 2.5, 5, 10, 20 ms
            return 120 << Int(c & 0x03)
        }
    }
}
