import GiaobanWire

/// Cuts VP9 frames into RTP payloads (RFC 9628 §4): non-flexible mode with one spatial and
/// one temporal layer. Each payload starts with a VP9 payload descriptor carrying a 15-bit
/// picture ID (+1 per frame), B on the first payload and E on the last, P = 1 for inter
/// frames; a keyframe's first payload also carries the scalability structure with the
/// picture size (§4.2.1). The caller sets the RTP marker on the last payload and gives all
/// payloads of one frame the same timestamp.
public struct VP9Packetizer: Sendable {
    /// The largest payload written, descriptor included.
    public let maxPayloadSize: Int
    /// The picture ID the next frame gets (15 bits, wraps to 0).
    public private(set) var pictureID: UInt16

    /// Creates a packetizer; `pictureID` defaults to a random start.
    public init(maxPayloadSize: Int = 1100, pictureID: UInt16 = .random(in: 0...0x7FFF)) {
        precondition(maxPayloadSize > 16, "payload size must exceed the descriptor")
        self.maxPayloadSize = maxPayloadSize
        self.pictureID = pictureID & 0x7FFF
    }

    /// Payloads for `frame` of `width`×`height`, in sending order. An empty frame yields none.
    public mutating func packetize(_ frame: [UInt8], isKeyframe: Bool, width: Int, height: Int) -> [[UInt8]] {
        guard !frame.isEmpty else { return [] }
        func descriptor(first: Bool, last: Bool) -> VP9PayloadDescriptorBuilder {
            let structure = first && isKeyframe
                ? VP9PayloadDescriptorBuilder.ScalabilityStructure(
                    spatialLayerCount: 1,
                    resolutions: [.init(width: UInt16(truncatingIfNeeded: width), height: UInt16(truncatingIfNeeded: height))])
                : nil
            return VP9PayloadDescriptorBuilder(isInterPicturePredicted: !isKeyframe, isStartOfFrame: first, isEndOfFrame: last,
                                               pictureID: pictureID, scalabilityStructure: structure)
        }
        // The first descriptor is the largest (it may carry the structure).
        let payloads = FramePayloads.split(frame, maxPayloadSize: maxPayloadSize,
                                           maxHeaderSize: descriptor(first: true, last: false).marshalSize) { i, count, out in
            (try? descriptor(first: i == 0, last: i == count - 1).marshal(into: out)) ?? 0
        }
        pictureID = (pictureID &+ 1) & 0x7FFF
        return payloads
    }
}
