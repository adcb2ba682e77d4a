public import GiaobanCodecs

/// A rectangle of a picture, in luma pixels; the compositor keeps every edge even so the
/// chroma planes (half size, I420) line up.
public struct PictureRect: Sendable, Equatable, CustomStringConvertible {
    /// Left edge.
    public var x: Int
    /// Top edge.
    public var y: Int
    /// Width.
    public var width: Int
    /// Height.
    public var height: Int

    /// A rectangle at (`x`, `y`) of `width` × `height`.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The largest rectangle of the `sourceWidth`:`sourceHeight` aspect ratio that fits in
    /// this one, centred (letterboxed or pillarboxed), with even edges.
    public func fitting(sourceWidth: Int, sourceHeight: Int) -> PictureRect {
        guard sourceWidth > 0, sourceHeight > 0 else { return self }
        var w = width, h = height
        if sourceWidth * height > width * sourceHeight {
            h = width * sourceHeight / sourceWidth
        } else {
            w = height * sourceWidth / sourceHeight
        }
        w &= ~1
        h &= ~1
        return PictureRect(x: (x + (width - w) / 2) & ~1, y: (y + (height - h) / 2) & ~1, width: w, height: h)
    }

    public var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// Scales I420 pictures into a region of another (bilinear, 8-bit fixed-point weights,
/// sample centres aligned). Index loops over the planes; allocates nothing.
public enum I420Scaler {
    /// Draws `source`, scaled to `rect` (even edges, inside `canvas`), into `canvas`.
    public static func scale(_ source: I420Frame, into canvas: inout I420Frame, rect: PictureRect) {
        precondition(rect.x >= 0 && rect.y >= 0 && rect.x + rect.width <= canvas.width && rect.y + rect.height <= canvas.height,
                     "rect \(rect) outside the canvas")
        guard rect.width >= 2, rect.height >= 2 else { return }
        let sw = source.width, sh = source.height, scw = source.chromaWidth, sch = source.chromaHeight
        let cw = canvas.width, ccw = canvas.chromaWidth
        let (su, sv, cu, cv) = (source.uOffset, source.vOffset, canvas.uOffset, canvas.vOffset)
        source.data.withUnsafeBufferPointer { src in
            canvas.data.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                plane(s, sw, sh, into: d + rect.y * cw + rect.x, stride: cw, rect.width, rect.height)
                let (x2, y2, w2, h2) = (rect.x / 2, rect.y / 2, rect.width / 2, rect.height / 2)
                plane(s + su, scw, sch, into: d + cu + y2 * ccw + x2, stride: ccw, w2, h2)
                plane(s + sv, scw, sch, into: d + cv + y2 * ccw + x2, stride: ccw, w2, h2)
            }
        }
    }

    /// Fills `rect` of `canvas` with one colour (defaults to black).
    public static func fill(_ canvas: inout I420Frame, rect: PictureRect, y: UInt8 = 16, u: UInt8 = 128, v: UInt8 = 128) {
        let cw = canvas.width, ccw = canvas.chromaWidth, cu = canvas.uOffset, cv = canvas.vOffset
        canvas.data.withUnsafeMutableBufferPointer { p in
            for row in rect.y..<(rect.y + rect.height) {
                for col in rect.x..<(rect.x + rect.width) { p[row * cw + col] = y }
            }
            for row in (rect.y / 2)..<((rect.y + rect.height) / 2) {
                for col in (rect.x / 2)..<((rect.x + rect.width) / 2) {
                    p[cu + row * ccw + col] = u
                    p[cv + row * ccw + col] = v
                }
            }
        }
    }

    /// Bilinear resampling of one plane (`sw` × `sh`, tightly packed) into `dw` × `dh` at `out`.
    private static func plane(_ src: UnsafePointer<UInt8>, _ sw: Int, _ sh: Int, into out: UnsafeMutablePointer<UInt8>,
                              stride: Int, _ dw: Int, _ dh: Int) {
        for y in 0..<dh {
            // Source position of the destination sample's centre, in 1/256 pixel.
            let fy = max(0, ((2 * y + 1) * sh * 256) / (2 * dh) - 128)
            let y0 = min(fy >> 8, sh - 1), wy = fy & 255, y1 = min(y0 + 1, sh - 1)
            let r0 = src + y0 * sw, r1 = src + y1 * sw
            let row = out + y * stride
            for x in 0..<dw {
                let fx = max(0, ((2 * x + 1) * sw * 256) / (2 * dw) - 128)
                let x0 = min(fx >> 8, sw - 1), wx = fx & 255, x1 = min(x0 + 1, sw - 1)
                let top = Int(r0[x0]) * (256 - wx) + Int(r0[x1]) * wx
                let bottom = Int(r1[x0]) * (256 - wx) + Int(r1[x1]) * wx
                row[x] = UInt8(truncatingIfNeeded: (top * (256 - wy) + bottom * wy + 32768) >> 16)
            }
        }
    }
}
