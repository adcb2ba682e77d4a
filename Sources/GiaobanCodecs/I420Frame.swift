/// A planar YUV 4:2:0 picture (I420) in one contiguous buffer: Y, then U, then V,
/// each plane tightly packed (stride = plane width).
public struct I420Frame: Sendable, Equatable {
    /// Luma width in pixels.
    public let width: Int
    /// Luma height in pixels.
    public let height: Int
    /// Y plane, then U plane, then V plane.
    public var data: [UInt8]

    /// Width of the chroma planes: half the luma width, rounded up.
    public var chromaWidth: Int { (width + 1) / 2 }
    /// Height of the chroma planes: half the luma height, rounded up.
    public var chromaHeight: Int { (height + 1) / 2 }
    /// Offset of the U plane in `data`.
    public var uOffset: Int { width * height }
    /// Offset of the V plane in `data`.
    public var vOffset: Int { width * height + chromaWidth * chromaHeight }

    /// Bytes needed for an I420 picture of the given size.
    public static func byteCount(width: Int, height: Int) -> Int {
        width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)
    }

    /// A picture filled with one colour (defaults to black: Y 16, U/V 128).
    public init(width: Int, height: Int, y: UInt8 = 16, u: UInt8 = 128, v: UInt8 = 128) {
        self.width = width
        self.height = height
        let cw = (width + 1) / 2, ch = (height + 1) / 2
        data = [UInt8](repeating: y, count: width * height) + [UInt8](repeating: u, count: cw * ch)
            + [UInt8](repeating: v, count: cw * ch)
    }

    /// Wraps existing I420 bytes; returns nil if `data` has the wrong size.
    public init?(width: Int, height: Int, data: [UInt8]) {
        guard width > 0, height > 0, data.count == Self.byteCount(width: width, height: height) else { return nil }
        self.width = width
        self.height = height
        self.data = data
    }

    /// The luma sample at (x, y).
    public func luma(x: Int, y: Int) -> UInt8 { data[y * width + x] }

    /// Mean absolute difference of the luma planes (same size required), a rough
    /// similarity measure for tests: 0 for identical pictures, ~1–3 after lossy coding.
    public func meanLumaDifference(to other: I420Frame) -> Double {
        precondition(width == other.width && height == other.height, "pictures differ in size")
        var sum = 0
        for i in 0..<(width * height) { sum += abs(Int(data[i]) - Int(other.data[i])) }
        return Double(sum) / Double(width * height)
    }
}
