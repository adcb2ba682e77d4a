import GiaobanWire

/// Cuts VP8 frames into RTP payloads (RFC 7741 §4): each payload is a VP8 payload
/// descriptor followed by a piece of the frame. Every descriptor carries a 15-bit picture
/// ID (§4.2, M = 1) that increases by one per frame; only the first payload of a frame has
/// S = 1 (start of partition 0). The caller sets the RTP marker on the last payload (§4.1)
/// and gives all payloads of one frame the same timestamp.
public struct VP8Packetizer: Sendable {
    /// The largest payload written, descriptor included: small enough that RTP, SRTP and
    /// UDP/IP headers stay well under a 1280-byte path MTU.
    public let maxPayloadSize: Int
    /// The picture ID the next frame gets (15 bits, wraps to 0).
    public private(set) var pictureID: UInt16

    /// Bytes of the descriptor written: required byte, X byte, two picture ID bytes.
    public static let descriptorSize = 4

    /// Creates a packetizer; `pictureID` defaults to a random start as senders commonly do.
    public init(maxPayloadSize: Int = 1100, pictureID: UInt16 = .random(in: 0...0x7FFF)) {
        precondition(maxPayloadSize > Self.descriptorSize, "payload size must exceed the descriptor")
        self.maxPayloadSize = maxPayloadSize
        self.pictureID = pictureID & 0x7FFF
    }

    /// Payloads for `frame`, in sending order; the last one takes the RTP marker. An empty
    /// frame yields no payload (and does not use a picture ID).
    public mutating func packetize(_ frame: [UInt8]) -> [[UInt8]] {
        guard !frame.isEmpty else { return [] }
        let pictureID = self.pictureID
        let payloads = FramePayloads.split(frame, maxPayloadSize: maxPayloadSize, maxHeaderSize: Self.descriptorSize) { i, _, out in
            let descriptor = VP8PayloadDescriptorBuilder(isStartOfPartition: i == 0, partitionIndex: 0,
                                                         pictureID: pictureID, longPictureID: true)
            return (try? descriptor.marshal(into: out)) ?? 0
        }
        self.pictureID = (pictureID &+ 1) & 0x7FFF
        return payloads
    }
}
