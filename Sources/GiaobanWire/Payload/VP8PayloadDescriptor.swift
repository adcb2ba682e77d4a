/// The VP8 payload descriptor at the start of every VP8 RTP payload (RFC 7741 §4.2), and
/// the keyframe facts the relay needs from the VP8 payload header (RFC 7741 §4.3,
/// RFC 6386 §9.1).
///
/// ```
///       0 1 2 3 4 5 6 7
///      +-+-+-+-+-+-+-+-+
///      |X|R|N|S|R| PID | (REQUIRED)
/// X:   |I|L|T|K| RSV   | (OPTIONAL)
/// I:   |M| PictureID   | (OPTIONAL)
///      |   PictureID   | (when M = 1: 15-bit picture ID)
/// L:   |   TL0PICIDX   | (OPTIONAL)
/// T/K: |TID|Y| KEYIDX  | (OPTIONAL)
/// ```
///
/// Holds the caller's payload bytes (valid while the caller's buffer lives) plus the decoded
/// fields; parsing does not allocate.
public struct VP8PayloadDescriptor {
    /// The RTP payload, as given to `init`.
    public let bytes: UnsafeRawBufferPointer
    /// Bytes of the descriptor; the VP8 payload starts here.
    public let descriptorLength: Int
    /// Offset of the picture ID field, or 0 when absent.
    public let pictureIDOffset: Int
    /// Length of the picture ID field: 0 (absent), 1 (7 bits) or 2 (15 bits, M = 1).
    public let pictureIDLength: Int
    /// Offset of the TL0PICIDX field, or 0 when absent.
    public let tl0PicIdxOffset: Int

    /// X: the extension byte is present.
    @inlinable public var isExtended: Bool { bytes[0] & 0x80 != 0 }
    /// N: the frame can be discarded without affecting others.
    @inlinable public var isNonReference: Bool { bytes[0] & 0x20 != 0 }
    /// S: this packet starts a VP8 partition.
    @inlinable public var isStartOfPartition: Bool { bytes[0] & 0x10 != 0 }
    /// PID: the partition index, 0–7.
    @inlinable public var partitionIndex: UInt8 { bytes[0] & 0x07 }
    /// True when S = 1 and PID = 0: the first packet of a frame.
    @inlinable public var isStartOfFrame: Bool { bytes[0] & 0x17 == 0x10 }

    @inlinable var extensionByte: UInt8 { isExtended ? bytes[1] : 0 }

    /// M: the picture ID is 15 bits (else 7); false when there is no picture ID.
    @inlinable public var hasLongPictureID: Bool { pictureIDLength == 2 }
    /// The 7- or 15-bit picture ID (I = 1), or nil.
    @inlinable public var pictureID: UInt16? {
        guard pictureIDOffset != 0 else { return nil }
        return hasLongPictureID
            ? bytes.u16(at: pictureIDOffset) & 0x7FFF
            : UInt16(bytes[pictureIDOffset] & 0x7F)
    }
    /// TL0PICIDX (L = 1), or nil.
    @inlinable public var tl0PicIdx: UInt8? { tl0PicIdxOffset != 0 ? bytes[tl0PicIdxOffset] : nil }

    @inlinable var tkOffset: Int {
        extensionByte & 0x30 != 0 ? descriptorLength - 1 : 0
    }
    /// TID, the temporal layer index 0–3 (T = 1), or nil.
    @inlinable public var temporalLayer: UInt8? {
        extensionByte & 0x20 != 0 ? bytes[tkOffset] >> 6 : nil
    }
    /// Y: layer sync — the frame depends only on base-layer frames (meaningful when T = 1).
    @inlinable public var isLayerSync: Bool {
        extensionByte & 0x20 != 0 && bytes[tkOffset] & 0x20 != 0
    }
    /// KEYIDX, the temporal key frame index 0–31 (K = 1), or nil.
    @inlinable public var keyIndex: UInt8? {
        extensionByte & 0x10 != 0 ? bytes[tkOffset] & 0x1F : nil
    }

    /// The VP8 payload after the descriptor (at least one byte).
    @inlinable public var payload: UnsafeRawBufferPointer {
        bytes.slice(descriptorLength, bytes.count - descriptorLength)
    }

    /// Parses the descriptor of an RTP payload; throws `.truncated` when a flagged field is
    /// missing or no VP8 payload byte follows the descriptor.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 1 else { throw WireError(.truncated, "VP8 payload descriptor") }
        var i = 1
        var pictureIDOffset = 0
        var pictureIDLength = 0
        var tl0PicIdxOffset = 0
        if bytes[0] & 0x80 != 0 {
            guard bytes.count > i else { throw WireError(.truncated, "VP8 payload descriptor") }
            let x = bytes[i]
            i += 1
            if x & 0x80 != 0 {  // I
                guard bytes.count > i else { throw WireError(.truncated, "VP8 picture ID") }
                pictureIDOffset = i
                pictureIDLength = bytes[i] & 0x80 != 0 ? 2 : 1
                i += pictureIDLength
            }
            if x & 0x40 != 0 {  // L
                tl0PicIdxOffset = i
                i += 1
            }
            if x & 0x30 != 0 {  // T or K
                i += 1
            }
        }
        guard bytes.count > i else { throw WireError(.truncated, "VP8 payload descriptor") }
        self.bytes = bytes
        self.descriptorLength = i
        self.pictureIDOffset = pictureIDOffset
        self.pictureIDLength = pictureIDLength
        self.tl0PicIdxOffset = tl0PicIdxOffset
    }

    /// True when this packet starts a key frame: S = 1, PID = 0 and the P bit (bit 0 of the
    /// first VP8 payload header byte) is 0 (RFC 7741 §4.3).
    @inlinable public var isKeyFrame: Bool {
        isStartOfFrame && bytes[descriptorLength] & 0x01 == 0
    }

    /// Width and height (14 bits each) from a key frame's header: 3-byte frame tag, start
    /// code 9d 01 2a, then little-endian width and height, each with 2 scale bits on top
    /// (RFC 6386 §9.1). Nil when not a key frame or the header is short or malformed.
    @inlinable public var keyFrameSize: (width: UInt16, height: UInt16)? {
        guard isKeyFrame else { return nil }
        let p = descriptorLength
        guard bytes.count - p >= 10,
            bytes[p + 3] == 0x9D, bytes[p + 4] == 0x01, bytes[p + 5] == 0x2A
        else { return nil }
        let width = (UInt16(bytes[p + 6]) | UInt16(bytes[p + 7]) << 8) & 0x3FFF
        let height = (UInt16(bytes[p + 8]) | UInt16(bytes[p + 9]) << 8) & 0x3FFF
        return (width, height)
    }

    /// Rewrites the picture ID in `payload` (a copy of the parsed payload, same layout),
    /// keeping its 7- or 15-bit length: `pictureID` is truncated to it. Throws `.badValue`
    /// when the descriptor has no picture ID, `.badLength` when `payload` is too short.
    @inlinable
    public func setPictureID(_ pictureID: UInt16, in payload: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard pictureIDOffset != 0 else { throw WireError(.badValue, "VP8 picture ID") }
        guard payload.count >= descriptorLength else { throw WireError(.badLength, "VP8 picture ID") }
        if hasLongPictureID {
            payload.setU16(0x8000 | (pictureID & 0x7FFF), at: pictureIDOffset)
        } else {
            payload[pictureIDOffset] = UInt8(truncatingIfNeeded: pictureID) & 0x7F
        }
    }

    /// Rewrites TL0PICIDX in `payload` (same layout as the parsed payload). Throws `.badValue`
    /// when the descriptor has no TL0PICIDX, `.badLength` when `payload` is too short.
    @inlinable
    public func setTL0PicIdx(_ tl0PicIdx: UInt8, in payload: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard tl0PicIdxOffset != 0 else { throw WireError(.badValue, "VP8 TL0PICIDX") }
        guard payload.count >= descriptorLength else { throw WireError(.badLength, "VP8 TL0PICIDX") }
        payload[tl0PicIdxOffset] = tl0PicIdx
    }
}
