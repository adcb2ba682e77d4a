import GiaobanCodecs
import GiaobanMixer
import GiaobanRTP

/// A camera: pictures encoded with libvpx and cut into VP8 RTP payloads.
struct VideoFeed {
    let name: String
    private let encoder: VPXEncoder
    private var packetizer = VP8Packetizer(pictureID: 100)
    private(set) var sequence: UInt16
    private var timestamp: UInt32 = 1000

    init(name: String, width: Int, height: Int, firstSequence: UInt16) throws {
        self.name = name
        encoder = try VPXEncoder(VPXEncoder.Settings(codec: .vp8, width: width, height: height, bitrateKbps: 1500))
        sequence = firstSequence
    }

    /// Encodes `picture` (as a keyframe when asked) and pushes its packets into
    /// `compositor`, all but the first when `losingFirstPacket`.
    mutating func send(_ picture: I420Frame, to compositor: VideoCompositor, keyframe: Bool = false,
                       losingFirstPacket: Bool = false) throws {
        for frame in try encoder.encode(picture, forceKeyframe: keyframe) {
            let payloads = packetizer.packetize(frame.data)
            for (i, payload) in payloads.enumerated() where i > 0 || !losingFirstPacket {
                payload.withUnsafeBytes {
                    compositor.push(source: name, sequence: sequence &+ UInt16(i), timestamp: timestamp,
                                    marker: i == payloads.count - 1, payload: $0)
                }
            }
            sequence &+= UInt16(payloads.count)
        }
        timestamp &+= 3000
    }
}

extension I420Frame {
    /// Mean absolute luma difference over `rect` against `other` (same size).
    func meanLumaDifference(to other: I420Frame, in rect: PictureRect, excluding hole: PictureRect? = nil) -> Double {
        var sum = 0, count = 0
        for y in rect.y..<(rect.y + rect.height) {
            for x in rect.x..<(rect.x + rect.width) {
                if let h = hole, x >= h.x, x < h.x + h.width, y >= h.y, y < h.y + h.height { continue }
                sum += abs(Int(luma(x: x, y: y)) - Int(other.luma(x: x, y: y)))
                count += 1
            }
        }
        return Double(sum) / Double(max(1, count))
    }

    /// The same picture with its luma inverted: a pattern clearly unlike the original.
    func invertedLuma() -> I420Frame {
        var copy = self
        for i in 0..<(width * height) { copy.data[i] = 251 - data[i] }
        return copy
    }
}
