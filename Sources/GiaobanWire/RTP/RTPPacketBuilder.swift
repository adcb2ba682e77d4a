/// Builds an RTP packet (RFC 3550 §5.1): fixed header, CSRCs, optional header extension
/// block (RFC 8285), payload and optional padding (RFC 3550 §5.1, P bit).
///
/// Used by packet sources (the endpoint client, tests); the forwarding path writes a fixed-capacity
/// header in front of the received payload instead (`RTPEgressHeader`).
public struct RTPPacketBuilder: Sendable, Equatable {
    /// M: the marker bit.
    public var marker: Bool
    /// PT: payload type, 0–127.
    public var payloadType: UInt8
    /// The 16-bit sequence number.
    public var sequenceNumber: UInt16
    /// The 32-bit timestamp.
    public var timestamp: UInt32
    /// The synchronization source.
    public var ssrc: UInt32
    /// Contributing sources, at most 15.
    public var csrcs: [UInt32]
    /// The header extension block, or nil for none (X = 0).
    public var extensions: RTPHeaderExtensionBuilder?
    /// The payload bytes written by `marshal(into:)`.
    public var payload: [UInt8]
    /// Padding bytes to append including the count byte (0 = no padding, P = 0).
    public var paddingLength: UInt8

    /// Creates a builder; all fields may be changed afterwards.
    @inlinable
    public init(
        payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        marker: Bool = false, csrcs: [UInt32] = [], extensions: RTPHeaderExtensionBuilder? = nil,
        payload: [UInt8] = [], paddingLength: UInt8 = 0
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensions = extensions
        self.payload = payload
        self.paddingLength = paddingLength
    }

    /// Header size: 12 + 4·CSRCs + extension block.
    @inlinable
    public var headerSize: Int { 12 + csrcs.count * 4 + (extensions?.marshalSize ?? 0) }

    /// Total size with the stored `payload` and padding.
    @inlinable
    public var marshalSize: Int { headerSize + payload.count + Int(paddingLength) }

    /// Writes the packet with the stored `payload`; returns `marshalSize`.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        // Swift typed throws cannot cross the closure of withUnsafeBytes; carry the error out.
        var failure: WireError?
        let n = payload.withUnsafeBytes { p -> Int in
            do throws(WireError) {
                return try marshal(payload: p, into: out)
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        return n
    }

    /// Writes the packet with `payload` in place of the stored one (no copy of the payload
    /// into the builder); needs `headerSize + payload.count + paddingLength` bytes.
    ///
    /// Throws `.bufferTooSmall` when `out` is short, `.badValue` for more than 15 CSRCs or a
    /// payload type above 127, and the extension builder's errors.
    @inlinable
    public func marshal(payload: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let header = headerSize
        let size = header + payload.count + Int(paddingLength)
        guard out.count >= size else { throw WireError(.bufferTooSmall, "RTP packet") }
        guard csrcs.count <= 15, payloadType <= 127 else { throw WireError(.badValue, "RTP packet") }
        out[0] = 0x80 | (paddingLength > 0 ? 0x20 : 0) | (extensions != nil ? 0x10 : 0) | UInt8(csrcs.count)
        out[1] = (marker ? 0x80 : 0) | payloadType
        out.setU16(sequenceNumber, at: 2)
        out.setU32(timestamp, at: 4)
        out.setU32(ssrc, at: 8)
        var i = 12
        for csrc in csrcs {
            out.setU32(csrc, at: i)
            i += 4
        }
        if let extensions {
            i += try extensions.marshal(into: UnsafeMutableRawBufferPointer(rebasing: out[i..<header]))
        }
        if !payload.isEmpty {
            UnsafeMutableRawBufferPointer(rebasing: out[i..<(i + payload.count)]).copyMemory(from: payload)
            i += payload.count
        }
        if paddingLength > 0 {
            let end = i + Int(paddingLength)
            while i < end - 1 {
                out[i] = 0
                i += 1
            }
            out[i] = paddingLength
            i += 1
        }
        return size
    }
}
