import GiaobanRecording

/// The picture size a VP8 or VP9 keyframe declares, read from its first bytes (the WebM video
/// track needs it before the first block; the relay never decodes video).
enum VideoFrameSize {
    /// `frame`'s width and height if it is a keyframe whose header carries them.
    static func of(_ frame: [UInt8], codec: WebMVideoTrack.Codec) -> (width: Int, height: Int)? {
        switch codec {
        case .vp8: vp8(frame)
        case .vp9: vp9(frame)
        }
    }

    /// RFC 6386 §9.1: a 3-byte frame tag (P bit clear), start code 9d 01 2a, then 14-bit width
    /// and height, little-endian, each under 2 scaling bits.
    static func vp8(_ f: [UInt8]) -> (width: Int, height: Int)? {
        guard f.count >= 10, f[0] & 1 == 0, f[3] == 0x9D, f[4] == 0x01, f[5] == 0x2A else { return nil }
        return (Int(f[6]) | Int(f[7] & 0x3F) << 8, Int(f[8]) | Int(f[9] & 0x3F) << 8)
    }

    /// VP9 bitstream specification §6.2 (uncompressed header) of a keyframe: frame marker,
    /// profile, show_existing_frame = 0, frame_type = 0, sync code 49 83 42, color config,
    /// then frame_width_minus_1 and frame_height_minus_1 (16 bits each).
    static func vp9(_ f: [UInt8]) -> (width: Int, height: Int)? {
        var bits = BitReader(bytes: f)
        guard bits.read(2) == 2 else { return nil }
        let low = bits.read(1), high = bits.read(1)
        let profile = high << 1 | low
        if profile == 3 { _ = bits.read(1) }
        guard bits.read(1) == 0, bits.read(1) == 0 else { return nil }  // shown from before; not a keyframe
        _ = bits.read(2)  // show_frame, error_resilient_mode
        guard bits.read(8) == 0x49, bits.read(8) == 0x83, bits.read(8) == 0x42 else { return nil }
        if profile >= 2 { _ = bits.read(1) }
        let colorSpace = bits.read(3)
        if colorSpace != 7 {
            _ = bits.read(1)
            if profile == 1 || profile == 3 { _ = bits.read(3) }
        } else if profile == 1 || profile == 3 {
            _ = bits.read(1)
        }
        let width = bits.read(16) + 1, height = bits.read(16) + 1
        return bits.overrun ? nil : (width, height)
    }

    /// Most-significant-bit-first reads; past the end reads zeros and sets `overrun`.
    struct BitReader {
        let bytes: [UInt8]
        var position = 0
        var overrun = false

        mutating func read(_ count: Int) -> Int {
            var value = 0
            for _ in 0..<count {
                let index = position >> 3
                if index >= bytes.count { overrun = true }
                let bit = index < bytes.count ? Int(bytes[index] >> (7 - UInt8(position & 7))) & 1 : 0
                value = value << 1 | bit
                position += 1
            }
            return value
        }
    }
}
