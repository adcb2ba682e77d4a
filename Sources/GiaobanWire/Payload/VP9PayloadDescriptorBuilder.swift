/// Builds a VP9 payload descriptor (RFC 9628 §4.2), with an optional scalability structure
/// (RFC 9628 §4.2.1); the VP9 payload itself is written by the caller after `marshalSize` bytes.
///
/// Holds small arrays for the SS and reference differences: for packetizers and tests,
/// not for the forwarding path (which rewrites descriptors in place).
public struct VP9PayloadDescriptorBuilder: Sendable, Equatable {
    /// Layer indices (L = 1): TID, U, SID, D, and TL0PICIDX in non-flexible mode.
    public struct LayerIndices: Sendable, Equatable {
        /// TID 0–7.
        public var temporalLayer: UInt8
        /// U: switching up point.
        public var isSwitchingUp: Bool
        /// SID 0–7.
        public var spatialLayer: UInt8
        /// D: inter-layer dependency.
        public var isInterLayerDependent: Bool
        /// TL0PICIDX, written in non-flexible mode only.
        public var tl0PicIdx: UInt8

        /// Creates layer indices.
        @inlinable
        public init(temporalLayer: UInt8, isSwitchingUp: Bool = false, spatialLayer: UInt8,
                    isInterLayerDependent: Bool = false, tl0PicIdx: UInt8 = 0) {
            self.temporalLayer = temporalLayer
            self.isSwitchingUp = isSwitchingUp
            self.spatialLayer = spatialLayer
            self.isInterLayerDependent = isInterLayerDependent
            self.tl0PicIdx = tl0PicIdx
        }
    }

    /// One picture-group entry of an SS.
    public struct Picture: Sendable, Equatable {
        /// TID 0–7.
        public var temporalLayer: UInt8
        /// U: switching up point.
        public var isSwitchingUp: Bool
        /// 0–3 reference differences (8 bits each).
        public var referenceDiffs: [UInt8]

        /// Creates an entry.
        @inlinable
        public init(temporalLayer: UInt8, isSwitchingUp: Bool, referenceDiffs: [UInt8]) {
            self.temporalLayer = temporalLayer
            self.isSwitchingUp = isSwitchingUp
            self.referenceDiffs = referenceDiffs
        }
    }

    /// A scalability structure to write (V = 1).
    public struct ScalabilityStructure: Sendable, Equatable {
        /// Spatial layers, 1–8 (N_S + 1).
        public var spatialLayerCount: Int
        /// Per-layer (width, height) (Y = 1), exactly `spatialLayerCount` entries; empty for Y = 0.
        public var resolutions: [Resolution]
        /// The picture group (G = 1), or nil for G = 0; at most 255 entries.
        public var pictureGroup: [Picture]?

        /// Creates an SS.
        @inlinable
        public init(spatialLayerCount: Int, resolutions: [Resolution] = [], pictureGroup: [Picture]? = nil) {
            self.spatialLayerCount = spatialLayerCount
            self.resolutions = resolutions
            self.pictureGroup = pictureGroup
        }

        /// Bytes this SS takes.
        @inlinable public var marshalSize: Int {
            var n = 1 + resolutions.count * 4
            if let pictureGroup {
                n += 1
                for p in pictureGroup { n += 1 + p.referenceDiffs.count }
            }
            return n
        }
    }

    /// A spatial layer's resolution.
    public struct Resolution: Sendable, Equatable {
        /// Width in pixels.
        public var width: UInt16
        /// Height in pixels.
        public var height: UInt16
        /// Creates a resolution.
        @inlinable public init(width: UInt16, height: UInt16) {
            self.width = width
            self.height = height
        }
    }

    /// P: inter-picture predicted.
    public var isInterPicturePredicted: Bool
    /// F: flexible mode.
    public var isFlexibleMode: Bool
    /// B: start of a frame.
    public var isStartOfFrame: Bool
    /// E: end of a frame.
    public var isEndOfFrame: Bool
    /// Z: not a reference for upper spatial layers.
    public var isNotUpperLayerReference: Bool
    /// Picture ID (I = 1), or nil.
    public var pictureID: UInt16?
    /// M: write the picture ID in 15 bits (else 7).
    public var longPictureID: Bool
    /// Layer indices (L = 1), or nil.
    public var layerIndices: LayerIndices?
    /// Reference differences 1–127 (flexible mode with P = 1), at most 3.
    public var referenceDiffs: [UInt8]
    /// The SS (V = 1), or nil.
    public var scalabilityStructure: ScalabilityStructure?

    /// Creates a builder; the default is a non-flexible descriptor with no optional fields.
    @inlinable
    public init(
        isInterPicturePredicted: Bool = false, isFlexibleMode: Bool = false, isStartOfFrame: Bool = true,
        isEndOfFrame: Bool = true, isNotUpperLayerReference: Bool = false, pictureID: UInt16? = nil,
        longPictureID: Bool = true, layerIndices: LayerIndices? = nil, referenceDiffs: [UInt8] = [],
        scalabilityStructure: ScalabilityStructure? = nil
    ) {
        self.isInterPicturePredicted = isInterPicturePredicted
        self.isFlexibleMode = isFlexibleMode
        self.isStartOfFrame = isStartOfFrame
        self.isEndOfFrame = isEndOfFrame
        self.isNotUpperLayerReference = isNotUpperLayerReference
        self.pictureID = pictureID
        self.longPictureID = longPictureID
        self.layerIndices = layerIndices
        self.referenceDiffs = referenceDiffs
        self.scalabilityStructure = scalabilityStructure
    }

    @inlinable var writesReferenceDiffs: Bool { isFlexibleMode && isInterPicturePredicted }

    /// Descriptor size in bytes.
    @inlinable
    public var marshalSize: Int {
        var n = 1
        if pictureID != nil { n += longPictureID ? 2 : 1 }
        if layerIndices != nil { n += isFlexibleMode ? 1 : 2 }
        if writesReferenceDiffs { n += referenceDiffs.count }
        if let scalabilityStructure { n += scalabilityStructure.marshalSize }
        return n
    }

    /// Writes the descriptor; returns `marshalSize`. Throws `.bufferTooSmall` when `out` is
    /// short, `.badValue` for 0 or more than 3 reference differences in flexible mode with P = 1,
    /// an SS whose layer count is not 1–8, whose resolutions do not match it, or whose
    /// picture group has more than 255 entries or 3 references.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        guard out.count >= size else { throw WireError(.bufferTooSmall, "VP9 payload descriptor") }
        if writesReferenceDiffs {
            guard (1...3).contains(referenceDiffs.count) else { throw WireError(.badValue, "VP9 reference indices") }
        }
        out[0] = (pictureID != nil ? 0x80 : 0) | (isInterPicturePredicted ? 0x40 : 0)
            | (layerIndices != nil ? 0x20 : 0) | (isFlexibleMode ? 0x10 : 0) | (isStartOfFrame ? 0x08 : 0)
            | (isEndOfFrame ? 0x04 : 0) | (scalabilityStructure != nil ? 0x02 : 0)
            | (isNotUpperLayerReference ? 0x01 : 0)
        var i = 1
        if let pictureID {
            if longPictureID {
                out.setU16(0x8000 | (pictureID & 0x7FFF), at: i)
                i += 2
            } else {
                out[i] = UInt8(truncatingIfNeeded: pictureID) & 0x7F
                i += 1
            }
        }
        if let l = layerIndices {
            out[i] = (l.temporalLayer & 0x07) << 5 | (l.isSwitchingUp ? 0x10 : 0)
                | (l.spatialLayer & 0x07) << 1 | (l.isInterLayerDependent ? 0x01 : 0)
            i += 1
            if !isFlexibleMode {
                out[i] = l.tl0PicIdx
                i += 1
            }
        }
        if writesReferenceDiffs {
            for (k, d) in referenceDiffs.enumerated() {
                out[i] = (d & 0x7F) << 1 | (k < referenceDiffs.count - 1 ? 0x01 : 0)
                i += 1
            }
        }
        if let ss = scalabilityStructure {
            guard (1...8).contains(ss.spatialLayerCount),
                ss.resolutions.isEmpty || ss.resolutions.count == ss.spatialLayerCount,
                (ss.pictureGroup?.count ?? 0) <= 255
            else { throw WireError(.badValue, "VP9 scalability structure") }
            out[i] = UInt8(ss.spatialLayerCount - 1) << 5 | (ss.resolutions.isEmpty ? 0 : 0x10)
                | (ss.pictureGroup != nil ? 0x08 : 0)
            i += 1
            for r in ss.resolutions {
                out.setU16(r.width, at: i)
                out.setU16(r.height, at: i + 2)
                i += 4
            }
            if let group = ss.pictureGroup {
                out[i] = UInt8(group.count)
                i += 1
                for p in group {
                    guard p.referenceDiffs.count <= 3 else { throw WireError(.badValue, "VP9 scalability structure") }
                    out[i] = (p.temporalLayer & 0x07) << 5 | (p.isSwitchingUp ? 0x10 : 0)
                        | UInt8(p.referenceDiffs.count) << 2
                    i += 1
                    for d in p.referenceDiffs {
                        out[i] = d
                        i += 1
                    }
                }
            }
        }
        return size
    }
}
