/// The VP9 payload descriptor at the start of every VP9 RTP payload (RFC 9628 §4.2),
/// in flexible (F = 1) and non-flexible (F = 0) mode.
///
/// ```
///       0 1 2 3 4 5 6 7
///      +-+-+-+-+-+-+-+-+
///      |I|P|L|F|B|E|V|Z| (REQUIRED)
/// I:   |M| PICTURE ID  | (M = 1: 15-bit picture ID, one more byte)
/// M:   | EXTENDED PID  |
/// L:   | TID |U| SID |D|
///      |   TL0PICIDX   | (F = 0 and L = 1 only)
/// P,F: | P_DIFF      |N| (F = 1 and P = 1: up to 3 times, N = another follows)
/// V:   | SS ...        | (see VP9ScalabilityStructure)
/// ```
///
/// Holds the caller's payload bytes (valid while the caller's buffer lives) plus field
/// offsets; parsing does not allocate.
public struct VP9PayloadDescriptor {
    /// The RTP payload, as given to `init`.
    public let bytes: UnsafeRawBufferPointer
    /// Bytes of the descriptor including any SS; the VP9 payload starts here.
    public let descriptorLength: Int
    /// Offset of the picture ID, or 0 when I = 0.
    public let pictureIDOffset: Int
    /// Length of the picture ID: 0 (absent), 1 (7 bits) or 2 (15 bits, M = 1).
    public let pictureIDLength: Int
    /// Offset of the layer indices byte, or 0 when L = 0.
    public let layerIndicesOffset: Int
    /// Offset of the first P_DIFF byte, or 0 when absent.
    public let referenceDiffsOffset: Int
    /// The number of P_DIFF bytes, 0–3.
    public let referenceDiffCount: Int
    /// Offset of the SS, or 0 when V = 0.
    public let scalabilityStructureOffset: Int

    /// I: a picture ID is present.
    @inlinable public var hasPictureID: Bool { bytes[0] & 0x80 != 0 }
    /// P: inter-picture predicted (the picture references earlier ones).
    @inlinable public var isInterPicturePredicted: Bool { bytes[0] & 0x40 != 0 }
    /// L: layer indices are present.
    @inlinable public var hasLayerIndices: Bool { bytes[0] & 0x20 != 0 }
    /// F: flexible mode.
    @inlinable public var isFlexibleMode: Bool { bytes[0] & 0x10 != 0 }
    /// B: this packet starts a frame (of one spatial layer).
    @inlinable public var isStartOfFrame: Bool { bytes[0] & 0x08 != 0 }
    /// E: this packet ends a frame.
    @inlinable public var isEndOfFrame: Bool { bytes[0] & 0x04 != 0 }
    /// V: a scalability structure is present.
    @inlinable public var hasScalabilityStructure: Bool { bytes[0] & 0x02 != 0 }
    /// Z: the frame is not used as reference by upper spatial layers.
    @inlinable public var isNotUpperLayerReference: Bool { bytes[0] & 0x01 != 0 }

    /// The 7- or 15-bit picture ID, or nil.
    @inlinable public var pictureID: UInt16? {
        switch pictureIDLength {
        case 1: return UInt16(bytes[pictureIDOffset] & 0x7F)
        case 2: return bytes.u16(at: pictureIDOffset) & 0x7FFF
        default: return nil
        }
    }
    /// TID: temporal layer index 0–7 (L = 1), or nil.
    @inlinable public var temporalLayer: UInt8? {
        layerIndicesOffset != 0 ? bytes[layerIndicesOffset] >> 5 : nil
    }
    /// U: switching up point (L = 1).
    @inlinable public var isSwitchingUp: Bool {
        layerIndicesOffset != 0 && bytes[layerIndicesOffset] & 0x10 != 0
    }
    /// SID: spatial layer index 0–7 (L = 1), or nil.
    @inlinable public var spatialLayer: UInt8? {
        layerIndicesOffset != 0 ? (bytes[layerIndicesOffset] >> 1) & 0x07 : nil
    }
    /// D: inter-layer dependency — depends on the lower spatial layer of the same picture.
    @inlinable public var isInterLayerDependent: Bool {
        layerIndicesOffset != 0 && bytes[layerIndicesOffset] & 0x01 != 0
    }
    /// TL0PICIDX (non-flexible mode with L = 1), or nil.
    @inlinable public var tl0PicIdx: UInt8? {
        layerIndicesOffset != 0 && !isFlexibleMode ? bytes[layerIndicesOffset + 1] : nil
    }
    /// The reference picture-ID differences (flexible mode, P = 1): 1–3 values of 7 bits.
    @inlinable public var referenceDiffs: ReferenceDiffs {
        ReferenceDiffs(bytes: bytes.slice(referenceDiffsOffset, referenceDiffCount))
    }
    /// The scalability structure (V = 1), or nil.
    @inlinable public var scalabilityStructure: VP9ScalabilityStructure? {
        guard scalabilityStructureOffset != 0 else { return nil }
        return try? VP9ScalabilityStructure(
            bytes.slice(scalabilityStructureOffset, descriptorLength - scalabilityStructureOffset))
    }
    /// The VP9 payload after the descriptor (at least one byte).
    @inlinable public var payload: UnsafeRawBufferPointer {
        bytes.slice(descriptorLength, bytes.count - descriptorLength)
    }

    /// True when this packet starts a key frame: P = 0, B = 1 and, with layer indices,
    /// SID = 0 (RFC 9628 §4.2, §4.3).
    @inlinable public var isKeyFrame: Bool {
        !isInterPicturePredicted && isStartOfFrame && (spatialLayer ?? 0) == 0
    }

    /// Parses the descriptor of an RTP payload. Throws `.truncated` when a flagged field is
    /// missing or no VP9 payload byte follows, `.badValue` when a fourth P_DIFF is announced.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 1 else { throw WireError(.truncated, "VP9 payload descriptor") }
        let b0 = bytes[0]
        let flexible = b0 & 0x10 != 0
        var i = 1
        var pictureIDOffset = 0
        var pictureIDLength = 0
        if b0 & 0x80 != 0 {  // I
            guard bytes.count > i else { throw WireError(.truncated, "VP9 picture ID") }
            pictureIDOffset = i
            pictureIDLength = bytes[i] & 0x80 != 0 ? 2 : 1
            i += pictureIDLength
        }
        var layerIndicesOffset = 0
        if b0 & 0x20 != 0 {  // L
            layerIndicesOffset = i
            i += flexible ? 1 : 2
        }
        var referenceDiffsOffset = 0
        var referenceDiffCount = 0
        if flexible && b0 & 0x40 != 0 {  // F and P
            referenceDiffsOffset = i
            while true {
                guard bytes.count > i else { throw WireError(.truncated, "VP9 reference indices") }
                referenceDiffCount += 1
                let more = bytes[i] & 0x01 != 0
                i += 1
                if !more { break }
                guard referenceDiffCount < 3 else { throw WireError(.badValue, "VP9 reference indices") }
            }
        }
        var scalabilityStructureOffset = 0
        if b0 & 0x02 != 0 {  // V
            guard bytes.count > i else { throw WireError(.truncated, "VP9 scalability structure") }
            scalabilityStructureOffset = i
            i += try VP9ScalabilityStructure(bytes.slice(i, bytes.count - i)).length
        }
        guard bytes.count > i else { throw WireError(.truncated, "VP9 payload descriptor") }
        self.bytes = bytes
        self.descriptorLength = i
        self.pictureIDOffset = pictureIDOffset
        self.pictureIDLength = pictureIDLength
        self.layerIndicesOffset = layerIndicesOffset
        self.referenceDiffsOffset = referenceDiffsOffset
        self.referenceDiffCount = referenceDiffCount
        self.scalabilityStructureOffset = scalabilityStructureOffset
    }

    /// Rewrites the picture ID in `payload` (a copy of the parsed payload, same layout),
    /// keeping its 7- or 15-bit length. Throws `.badValue` when I = 0, `.badLength` when
    /// `payload` is too short.
    @inlinable
    public func setPictureID(_ pictureID: UInt16, in payload: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard pictureIDLength != 0 else { throw WireError(.badValue, "VP9 picture ID") }
        guard payload.count >= descriptorLength else { throw WireError(.badLength, "VP9 picture ID") }
        if pictureIDLength == 2 {
            payload.setU16(0x8000 | (pictureID & 0x7FFF), at: pictureIDOffset)
        } else {
            payload[pictureIDOffset] = UInt8(truncatingIfNeeded: pictureID) & 0x7F
        }
    }

    /// Rewrites TL0PICIDX in `payload` (same layout). Throws `.badValue` when absent
    /// (flexible mode or L = 0), `.badLength` when `payload` is too short.
    @inlinable
    public func setTL0PicIdx(_ tl0PicIdx: UInt8, in payload: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard layerIndicesOffset != 0, !isFlexibleMode else { throw WireError(.badValue, "VP9 TL0PICIDX") }
        guard payload.count >= descriptorLength else { throw WireError(.badLength, "VP9 TL0PICIDX") }
        payload[layerIndicesOffset + 1] = tl0PicIdx
    }

    /// The P_DIFF values of a flexible-mode descriptor (7 bits each; the N bits are stripped).
    public struct ReferenceDiffs: Sequence {
        /// The P_DIFF bytes.
        public let bytes: UnsafeRawBufferPointer

        @usableFromInline init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        /// The number of differences, 0–3.
        @inlinable public var count: Int { bytes.count }
        /// The difference at `index` (0 ..< count).
        @inlinable public subscript(index: Int) -> UInt8 { bytes[index] >> 1 }

        /// Creates an iterator.
        @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes) }

        /// Yields each 7-bit difference.
        public struct Iterator: IteratorProtocol {
            @usableFromInline let bytes: UnsafeRawBufferPointer
            @usableFromInline var offset = 0
            @inlinable init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

            /// The next difference, or nil.
            @inlinable public mutating func next() -> UInt8? {
                guard offset < bytes.count else { return nil }
                defer { offset += 1 }
                return bytes[offset] >> 1
            }
        }
    }
}
