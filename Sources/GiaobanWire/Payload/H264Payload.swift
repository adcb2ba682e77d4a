/// What the relay needs to know of an H.264 RTP payload (RFC 6184) and of its SDP parameters,
/// without depacketizing: whether a packet starts a keyframe (an IDR picture, or the SPS that
/// precedes one), and whether two `profile-level-id`s name the same profile.
public enum H264Payload {
    /// NAL unit types (ITU-T H.264 Table 7-1; RFC 6184 §5.2 for 24 and 28).
    static let idr: UInt8 = 5, sps: UInt8 = 7, stapA: UInt8 = 24, fuA: UInt8 = 28

    /// True when `payload` starts a keyframe: a single IDR or SPS NAL unit, a STAP-A holding
    /// one, or the first fragment (FU-A with the S bit) of an IDR.
    public static func startsKeyframe(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard let first = payload.first else { return false }
        switch first & 0x1F {
        case idr, sps:
            return true
        case stapA:
            // Aggregated units: a 16-bit size, then the unit (its first byte is its header).
            var offset = 1
            while offset + 2 < payload.count {
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                guard size > 0, offset + 2 + size <= payload.count else { return false }
                let type = payload[offset + 2] & 0x1F
                if type == idr || type == sps { return true }
                offset += 2 + size
            }
            return false
        case fuA:
            guard payload.count >= 2 else { return false }
            return payload[1] & 0x80 != 0 && payload[1] & 0x1F == idr
        default:
            return false
        }
    }

    /// The profile a `profile-level-id` (six hex digits: profile_idc, constraint flags,
    /// level_idc; RFC 6184 §8.1) names, so that a receiver's entry can be matched with a
    /// sender's regardless of level (WebRTC offers `level-asymmetry-allowed=1`): "constrained
    /// baseline" (42 with constraint_set1, or 4D/58 with set1 and set0/set2 as WebRTC reads
    /// them), "baseline", "main", "high", or the profile_idc in hex for others. Nil when the
    /// text is not six hex digits; absent means baseline (42000A).
    public static func profile(of profileLevelID: String?) -> String? {
        let text = profileLevelID ?? "42000a"
        guard text.count == 6, let value = UInt32(text, radix: 16) else { return nil }
        let idc = UInt8(value >> 16), flags = UInt8(value >> 8 & 0xFF)
        let set1 = flags & 0x40 != 0
        switch idc {
        case 0x42: return set1 ? "constrained baseline" : "baseline"
        case 0x4D: return set1 ? "constrained baseline" : "main"
        case 0x58: return set1 && flags & 0x80 != 0 ? "constrained baseline" : "extended"
        case 0x64: return flags & 0x0C == 0x0C ? "constrained high" : "high"
        default: return String(idc, radix: 16)
        }
    }
}

extension H264Payload {
    /// The fmtp parameters the relay writes for H.264 sent or received with `profileLevelID`.
    public static func fmtp(profileLevelID: String) -> String {
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=\(profileLevelID)"
    }
}
