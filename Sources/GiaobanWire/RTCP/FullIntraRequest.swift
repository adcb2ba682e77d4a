/// FIR: full intra request (RFC 5104 §4.3.1), PSFB (PT 206) with FMT 4. The media-source
/// SSRC of the common header is unused (zero); each FCI entry names a source:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                              SSRC                             |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     | Seq nr.       |    Reserved                                   |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// A view over the caller's bytes, valid while that buffer lives.
public struct FullIntraRequest: Sequence {
    /// FMT of a FIR.
    public static let format: UInt8 = 4
    /// Size of one FCI entry.
    public static let entrySize = 8

    /// One FCI entry: the source asked for a keyframe and the request's sequence number.
    public struct Entry: Sendable, Equatable {
        /// SSRC of the media sender that should send a decoder refresh point.
        public var ssrc: UInt32
        /// Command sequence number, incremented per new request to that source (§4.3.1.1).
        public var sequenceNumber: UInt8

        /// Creates an entry.
        @inlinable public init(ssrc: UInt32, sequenceNumber: UInt8) {
            self.ssrc = ssrc
            self.sequenceNumber = sequenceNumber
        }
    }

    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Number of FCI entries.
    public let count: Int

    /// Parses one FIR packet spanning exactly `bytes`; at least one entry, eight bytes each.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let (_, fciLength) = try RTCPFeedback.expect(
            bytes, .payloadFeedback, format: FullIntraRequest.format, "RTCP FIR")
        guard fciLength >= FullIntraRequest.entrySize, fciLength % FullIntraRequest.entrySize == 0 else {
            throw WireError(.badLength, "RTCP FIR")
        }
        self.bytes = bytes
        self.count = fciLength / FullIntraRequest.entrySize
    }

    /// SSRC of the packet sender.
    @inlinable public var senderSSRC: UInt32 { bytes.u32(at: 4) }
    /// The media-source field of the common header (zero per RFC 5104 §4.3.1.2).
    @inlinable public var mediaSSRC: UInt32 { bytes.u32(at: 8) }
    /// Same as `count`.
    @inlinable public var underestimatedCount: Int { count }

    /// The entry at `index` (0 ..< count).
    @inlinable public subscript(index: Int) -> Entry {
        let offset = RTCPFeedback.fixedSize + index * FullIntraRequest.entrySize
        return Entry(ssrc: bytes.u32(at: offset), sequenceNumber: bytes[offset + 4])
    }

    /// Iterates the entries in order.
    @inlinable public func makeIterator() -> Iterator { Iterator(request: self, index: 0) }

    /// Iterator over FIR entries.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let request: FullIntraRequest
        @usableFromInline var index: Int

        @inlinable init(request: FullIntraRequest, index: Int) {
            self.request = request
            self.index = index
        }

        /// The next entry, or nil at the end.
        @inlinable public mutating func next() -> Entry? {
            guard index < request.count else { return nil }
            defer { index += 1 }
            return request[index]
        }
    }
}

/// Writes a FIR packet.
public struct FullIntraRequestBuilder: RTCPPacketBuilder, Equatable {
    /// SSRC of the packet sender.
    public var senderSSRC: UInt32
    /// The entries, at least one.
    public var entries: [FullIntraRequest.Entry]

    /// Creates a FIR packet.
    public init(senderSSRC: UInt32, entries: [FullIntraRequest.Entry]) {
        self.senderSSRC = senderSSRC
        self.entries = entries
    }

    /// Copies the sender and entries of a parsed FIR.
    public init(_ view: FullIntraRequest) {
        self.init(senderSSRC: view.senderSSRC, entries: Array(view))
    }

    /// 12 bytes plus eight per entry.
    public var marshalSize: Int { RTCPFeedback.fixedSize + entries.count * FullIntraRequest.entrySize }

    /// Writes the packet (media SSRC zero, reserved bytes zero); throws `.badValue` without entries.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard !entries.isEmpty else { throw WireError(.badValue, "RTCP FIR") }
        let size = marshalSize
        try RTCPFeedback.writeHeader(
            into: out, type: .payloadFeedback, format: FullIntraRequest.format,
            packetSize: size, senderSSRC: senderSSRC, mediaSSRC: 0, "RTCP FIR")
        var offset = RTCPFeedback.fixedSize
        for entry in entries {
            out.setU32(entry.ssrc, at: offset)
            out.setU32(UInt32(entry.sequenceNumber) << 24, at: offset + 4)
            offset += FullIntraRequest.entrySize
        }
        return size
    }
}
