/// A synthetic moving picture for endpoints that have no camera: eight vertical colour
/// bars scrolling one step per frame and a white square crossing the picture.
///
/// The bars make lossy coding errors visible; the moving square makes every frame differ,
/// so an encoder produces real inter frames and a receiver can tell frames apart.
public struct TestPattern: Sendable {
    /// Luma width.
    public let width: Int
    /// Luma height.
    public let height: Int
    /// Amplitude of the noise added to luma (0: none): like a camera's sensor noise, it makes
    /// every frame costly to code, so an encoder spends its whole bitrate.
    public let grain: Int
    /// The Y, U, V values of the eight bars (ITU-R BT.601 colour bars).
    static let bars: [(UInt8, UInt8, UInt8)] = [
        (235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34),
        (106, 202, 222), (81, 90, 240), (41, 240, 110), (16, 128, 128),
    ]

    /// Creates a pattern of the given size (both even, at least 16), with `grain` noise.
    public init(width: Int, height: Int, grain: Int = 0) {
        precondition(width >= 16 && height >= 16 && width % 2 == 0 && height % 2 == 0, "test pattern size must be even and ≥ 16")
        self.width = width
        self.height = height
        self.grain = max(0, min(grain, 100))
    }

    /// The bar colour index at column `x` in frame `index`.
    public func barIndex(x: Int, frame index: Int) -> Int {
        (((x + index * 2) % width) * 8 / width) % 8
    }

    /// Where the white square is in frame `index`: its top-left corner and side.
    public func square(frame index: Int) -> (x: Int, y: Int, side: Int) {
        let side = max(8, height / 6) & ~1
        let x = (index * 4) % max(1, width - side) & ~1
        let y = (height - side) / 2 & ~1
        return (x, y, side)
    }

    /// Renders frame number `index`.
    public func frame(_ index: Int) -> I420Frame {
        var f = I420Frame(width: width, height: height)
        let cw = f.chromaWidth, ch = f.chromaHeight, uOff = f.uOffset, vOff = f.vOffset
        let sq = square(frame: index)
        f.data.withUnsafeMutableBufferPointer { p in
            for x in 0..<width {
                let (yv, _, _) = Self.bars[barIndex(x: x, frame: index)]
                for y in 0..<height { p[y * width + x] = yv }
            }
            for cx in 0..<cw {
                let (_, uv, vv) = Self.bars[barIndex(x: cx * 2, frame: index)]
                for cy in 0..<ch {
                    p[uOff + cy * cw + cx] = uv
                    p[vOff + cy * cw + cx] = vv
                }
            }
            for y in sq.y..<(sq.y + sq.side) {
                for x in sq.x..<(sq.x + sq.side) { p[y * width + x] = 235 }
            }
            for cy in (sq.y / 2)..<((sq.y + sq.side) / 2) {
                for cx in (sq.x / 2)..<((sq.x + sq.side) / 2) {
                    p[uOff + cy * cw + cx] = 128
                    p[vOff + cy * cw + cx] = 128
                }
            }
            if grain > 0 {
                // A different noise field per frame (xorshift seeded by the frame number).
                var state = UInt32(truncatingIfNeeded: index &* 2_654_435_761) | 1
                let span = UInt32(2 * grain + 1)
                for i in 0..<(width * height) {
                    state ^= state << 13
                    state ^= state >> 17
                    state ^= state << 5
                    let value = Int(p[i]) + Int(state % span) - grain
                    p[i] = UInt8(clamping: value)
                }
            }
        }
        return f
    }
}
