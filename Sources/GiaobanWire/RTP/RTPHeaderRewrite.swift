/// In-place rewriting of an RTP header for one subscriber (RFC 3550 §5.1 fields,
/// RFC 8285 extension elements): SSRC, sequence number, timestamp, payload type, marker,
/// and same-length overwrites of extension element data.
///
/// For a whole packet kept as it is apart from these fields (the relay's forwarding path
/// writes a fresh header with `RTPEgressHeader` instead). Nothing here allocates. The
/// rewriter holds the caller's mutable bytes and is valid only while that buffer lives.
public struct RTPHeaderRewrite {
    /// The packet being rewritten.
    public let bytes: UnsafeMutableRawBufferPointer
    /// Header length of the packet (fixed header, CSRCs and extension block).
    public let headerLength: Int
    /// Padding length of the packet (0 when none).
    public let paddingLength: Int

    /// Validates `bytes` as an RTP packet (see `RTPPacketView.init`) and prepares to rewrite it.
    @inlinable
    public init(_ bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        let view = try RTPPacketView(UnsafeRawBufferPointer(bytes))
        self.bytes = bytes
        self.headerLength = view.headerLength
        self.paddingLength = view.paddingLength
    }

    /// Prepares to rewrite `bytes`, a byte-for-byte copy of the packet that `layout` parsed;
    /// skips re-validation. Throws `.badLength` if the sizes differ.
    @inlinable
    public init(_ bytes: UnsafeMutableRawBufferPointer, copyOf layout: RTPPacketView) throws(WireError) {
        guard bytes.count == layout.bytes.count else {
            throw WireError(.badLength, "RTP header rewrite")
        }
        self.bytes = bytes
        self.headerLength = layout.headerLength
        self.paddingLength = layout.paddingLength
    }

    /// Sets the synchronization source identifier.
    @inlinable
    public func setSSRC(_ ssrc: UInt32) {
        bytes.setU32(ssrc, at: 8)
    }

    /// Sets the 16-bit sequence number.
    @inlinable
    public func setSequenceNumber(_ sequenceNumber: UInt16) {
        bytes.setU16(sequenceNumber, at: 2)
    }

    /// Sets the 32-bit timestamp.
    @inlinable
    public func setTimestamp(_ timestamp: UInt32) {
        bytes.setU32(timestamp, at: 4)
    }

    /// Sets the 7-bit payload type (the high bit of `payloadType` is ignored), keeping M.
    @inlinable
    public func setPayloadType(_ payloadType: UInt8) {
        bytes[1] = (bytes[1] & 0x80) | (payloadType & 0x7F)
    }

    /// Sets or clears the marker bit, keeping PT.
    @inlinable
    public func setMarker(_ marker: Bool) {
        bytes[1] = marker ? bytes[1] | 0x80 : bytes[1] & 0x7F
    }

    /// The payload bytes (excluding padding), mutable, e.g. for a VP8/VP9 picture ID rewrite.
    @inlinable
    public var payload: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(
            rebasing: bytes[headerLength..<(bytes.count - paddingLength)])
    }

    /// Overwrites the data of `element` (found through `RTPPacketView.extensions` of this
    /// packet or of the packet it copies) with `data` of the same length.
    /// Throws `.badLength` when the lengths differ or the element lies outside the header.
    @inlinable
    public func overwrite(_ element: RTPHeaderExtensionElement, with data: UnsafeRawBufferPointer) throws(WireError) {
        guard data.count == element.data.count, element.dataOffset >= RTPPacketView.fixedHeaderLength,
            headerLength - element.dataOffset >= data.count
        else {
            throw WireError(.badLength, "RTP header extension overwrite")
        }
        for i in 0..<data.count {
            bytes[element.dataOffset + i] = data[i]
        }
    }

    /// Writes a transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions §2)
    /// into `element`, which must hold at least 2 bytes; throws `.badLength` otherwise.
    @inlinable
    public func setTransportSequenceNumber(_ sequenceNumber: UInt16, in element: RTPHeaderExtensionElement) throws(WireError) {
        guard element.data.count >= 2, element.dataOffset >= RTPPacketView.fixedHeaderLength,
            headerLength - element.dataOffset >= 2
        else {
            throw WireError(.badLength, "RTP transport-wide sequence number")
        }
        bytes.setU16(sequenceNumber, at: element.dataOffset)
    }

    /// Writes a 24-bit abs-send-time value (6.18 fixed-point seconds) into `element`,
    /// which must hold at least 3 bytes; throws `.badLength` otherwise.
    @inlinable
    public func setAbsSendTime(_ value: UInt32, in element: RTPHeaderExtensionElement) throws(WireError) {
        guard element.data.count >= 3, element.dataOffset >= RTPPacketView.fixedHeaderLength,
            headerLength - element.dataOffset >= 3
        else {
            throw WireError(.badLength, "RTP abs-send-time")
        }
        bytes.setU24(value, at: element.dataOffset)
    }
}
