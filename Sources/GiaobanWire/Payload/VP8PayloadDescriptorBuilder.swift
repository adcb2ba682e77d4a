/// Builds a VP8 payload descriptor (RFC 7741 §4.2) for a packetizer; the VP8 payload
/// itself is written by the caller after `marshalSize` bytes.
public struct VP8PayloadDescriptorBuilder: Sendable, Equatable {
    /// N: the frame can be discarded without affecting others.
    public var isNonReference: Bool
    /// S: this packet starts a VP8 partition.
    public var isStartOfPartition: Bool
    /// PID: partition index 0–7.
    public var partitionIndex: UInt8
    /// Picture ID (I = 1), or nil.
    public var pictureID: UInt16?
    /// M: write the picture ID in 15 bits (else 7).
    public var longPictureID: Bool
    /// TL0PICIDX (L = 1), or nil.
    public var tl0PicIdx: UInt8?
    /// TID 0–3 (T = 1), or nil.
    public var temporalLayer: UInt8?
    /// Y: layer sync (written only when `temporalLayer` is set).
    public var isLayerSync: Bool
    /// KEYIDX 0–31 (K = 1), or nil.
    public var keyIndex: UInt8?

    /// Creates a builder; the default is the 1-byte descriptor of a frame's first packet.
    @inlinable
    public init(
        isNonReference: Bool = false, isStartOfPartition: Bool = true, partitionIndex: UInt8 = 0,
        pictureID: UInt16? = nil, longPictureID: Bool = true, tl0PicIdx: UInt8? = nil,
        temporalLayer: UInt8? = nil, isLayerSync: Bool = false, keyIndex: UInt8? = nil
    ) {
        self.isNonReference = isNonReference
        self.isStartOfPartition = isStartOfPartition
        self.partitionIndex = partitionIndex
        self.pictureID = pictureID
        self.longPictureID = longPictureID
        self.tl0PicIdx = tl0PicIdx
        self.temporalLayer = temporalLayer
        self.isLayerSync = isLayerSync
        self.keyIndex = keyIndex
    }

    /// True when the X byte is needed.
    @inlinable var isExtended: Bool {
        pictureID != nil || tl0PicIdx != nil || temporalLayer != nil || keyIndex != nil
    }

    /// Descriptor size: 1–6 bytes.
    @inlinable
    public var marshalSize: Int {
        guard isExtended else { return 1 }
        var n = 2
        if pictureID != nil { n += longPictureID ? 2 : 1 }
        if tl0PicIdx != nil { n += 1 }
        if temporalLayer != nil || keyIndex != nil { n += 1 }
        return n
    }

    /// Writes the descriptor; returns `marshalSize`. Values are truncated to their field widths.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        guard out.count >= size else { throw WireError(.bufferTooSmall, "VP8 payload descriptor") }
        let extended = isExtended
        out[0] = (extended ? 0x80 : 0) | (isNonReference ? 0x20 : 0) | (isStartOfPartition ? 0x10 : 0)
            | (partitionIndex & 0x07)
        guard extended else { return size }
        out[1] = (pictureID != nil ? 0x80 : 0) | (tl0PicIdx != nil ? 0x40 : 0)
            | (temporalLayer != nil ? 0x20 : 0) | (keyIndex != nil ? 0x10 : 0)
        var i = 2
        if let pictureID {
            if longPictureID {
                out.setU16(0x8000 | (pictureID & 0x7FFF), at: i)
                i += 2
            } else {
                out[i] = UInt8(truncatingIfNeeded: pictureID) & 0x7F
                i += 1
            }
        }
        if let tl0PicIdx {
            out[i] = tl0PicIdx
            i += 1
        }
        if temporalLayer != nil || keyIndex != nil {
            let tid = (temporalLayer ?? 0) & 0x03
            let sync: UInt8 = temporalLayer != nil && isLayerSync ? 0x20 : 0
            out[i] = tid << 6 | sync | ((keyIndex ?? 0) & 0x1F)
            i += 1
        }
        return size
    }
}
