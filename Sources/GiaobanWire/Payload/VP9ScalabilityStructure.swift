/// A validated view of the VP9 scalability structure (SS), present in a payload descriptor
/// when V = 1 (RFC 9628 §4.2.1).
///
/// ```
///       +-+-+-+-+-+-+-+-+
///  V:   | N_S |Y|G|-|-|-|
///       +-+-+-+-+-+-+-+-+              -\
///  Y:   |     WIDTH     | (16 bits)     . N_S + 1 times
///       |     HEIGHT    | (16 bits)     .
///       +-+-+-+-+-+-+-+-+              -/
///  G:   |      N_G      |
///       +-+-+-+-+-+-+-+-+                           -\
///  N_G: | TID |U| R |-|-|                            . N_G times
///       |    P_DIFF     | (R times)                  .
///       +-+-+-+-+-+-+-+-+                           -/
/// ```
///
/// Holds the caller's bytes (valid while the caller's buffer lives); reading it does not allocate.
public struct VP9ScalabilityStructure {
    /// The SS bytes, exactly `length` long.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the picture group (N_G byte) in `bytes`, or 0 when G = 0.
    @usableFromInline let pictureGroupOffset: Int

    /// The number of SS bytes.
    @inlinable public var length: Int { bytes.count }
    /// N_S + 1: the number of spatial layers, 1–8.
    @inlinable public var spatialLayerCount: Int { Int(bytes[0] >> 5) + 1 }
    /// Y: each spatial layer's resolution is present.
    @inlinable public var hasResolutions: Bool { bytes[0] & 0x10 != 0 }
    /// G: a picture group description is present.
    @inlinable public var hasPictureGroup: Bool { bytes[0] & 0x08 != 0 }

    /// Validates an SS at the start of `bytes` (which may continue with the VP9 payload);
    /// throws `.truncated` when a declared field is missing.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 1 else { throw WireError(.truncated, "VP9 scalability structure") }
        let b = bytes[0]
        var i = 1
        if b & 0x10 != 0 {
            let n = (Int(b >> 5) + 1) * 4
            guard bytes.count - i >= n else { throw WireError(.truncated, "VP9 SS resolutions") }
            i += n
        }
        var pictureGroupOffset = 0
        if b & 0x08 != 0 {
            guard bytes.count > i else { throw WireError(.truncated, "VP9 SS picture group") }
            pictureGroupOffset = i
            let count = Int(bytes[i])
            i += 1
            for _ in 0..<count {
                guard bytes.count > i else { throw WireError(.truncated, "VP9 SS picture group") }
                let r = Int(bytes[i] >> 2) & 0x03
                i += 1
                guard bytes.count - i >= r else { throw WireError(.truncated, "VP9 SS picture group") }
                i += r
            }
        }
        self.bytes = bytes.slice(0, i)
        self.pictureGroupOffset = pictureGroupOffset
    }

    /// The width and height of spatial layer `index` (0 ..< spatialLayerCount), or nil when Y = 0
    /// or `index` is out of range.
    @inlinable
    public func resolution(ofLayer index: Int) -> (width: UInt16, height: UInt16)? {
        guard hasResolutions, index >= 0, index < spatialLayerCount else { return nil }
        return (bytes.u16(at: 1 + index * 4), bytes.u16(at: 3 + index * 4))
    }

    /// N_G: the number of pictures in the picture group (0 when G = 0).
    @inlinable public var pictureGroupCount: Int {
        pictureGroupOffset != 0 ? Int(bytes[pictureGroupOffset]) : 0
    }

    /// The pictures of the picture group, in order.
    @inlinable public var pictureGroup: PictureGroup {
        PictureGroup(bytes: pictureGroupOffset != 0
            ? bytes.slice(pictureGroupOffset + 1, bytes.count - pictureGroupOffset - 1)
            : UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// One picture of the picture group: TID, U and its reference differences.
    public struct Picture {
        /// TID: temporal layer index, 0–7.
        public let temporalLayer: UInt8
        /// U: switching up point.
        public let isSwitchingUp: Bool
        /// The R (0–3) P_DIFF bytes: each the picture-ID distance to a reference picture.
        public let referenceDiffs: UnsafeRawBufferPointer

        @usableFromInline
        init(temporalLayer: UInt8, isSwitchingUp: Bool, referenceDiffs: UnsafeRawBufferPointer) {
            self.temporalLayer = temporalLayer
            self.isSwitchingUp = isSwitchingUp
            self.referenceDiffs = referenceDiffs
        }
    }

    /// Iterates the validated picture group entries.
    public struct PictureGroup: Sequence {
        /// The entries' bytes (after N_G).
        public let bytes: UnsafeRawBufferPointer

        @usableFromInline init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        /// Creates an iterator.
        @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes) }

        /// Yields each `Picture`.
        public struct Iterator: IteratorProtocol {
            @usableFromInline let bytes: UnsafeRawBufferPointer
            @usableFromInline var offset = 0
            @inlinable init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

            /// The next picture, or nil.
            @inlinable public mutating func next() -> Picture? {
                guard offset < bytes.count else { return nil }
                let b = bytes[offset]
                let r = Int(b >> 2) & 0x03
                guard bytes.count - offset - 1 >= r else { offset = bytes.count; return nil }
                defer { offset += 1 + r }
                return Picture(temporalLayer: b >> 5, isSwitchingUp: b & 0x10 != 0,
                               referenceDiffs: bytes.slice(offset + 1, r))
            }
        }
    }
}
