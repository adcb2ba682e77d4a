/// A compound RTCP packet: one datagram holding a sequence of RTCP packets (RFC 3550 §6.1).
///
/// A view over the caller's bytes, valid while that buffer lives. `init` checks the framing
/// of the whole datagram once (RFC 3550 §A.2): every packet has version 2, every length
/// stays inside the datagram and the lengths add up to it exactly, and padding appears only
/// on the last packet. It does not require an SR or RR first: reduced-size RTCP
/// (RFC 5506 §3.4.2) sends a lone feedback packet. Packets of types this layer does not know
/// are yielded like any other, so the caller can skip them.
public struct RTCPCompound: Sequence {
    /// The whole datagram.
    public let bytes: UnsafeRawBufferPointer
    /// Number of packets in the datagram.
    public let packetCount: Int

    /// Validates the framing of `bytes`.
    ///
    /// - Parameter allowsPaddingBeforeLast: accept the P bit on packets other than the last.
    ///   RFC 3550 §6.4.1 forbids it, but libwebrtc pads each transport-wide feedback packet
    ///   to 32 bits with P set and may send several in one datagram; set this to accept those.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, allowsPaddingBeforeLast: Bool = false) throws(WireError) {
        guard !bytes.isEmpty else { throw WireError(.truncated, "RTCP compound") }
        var offset = 0
        var count = 0
        while offset < bytes.count {
            let rest = bytes.slice(offset, bytes.count - offset)
            let header = try RTCPHeader(rest)
            let size = header.packetSize
            guard size <= rest.count else { throw WireError(.truncated, "RTCP compound") }
            if header.padding {
                guard allowsPaddingBeforeLast || size == rest.count else {
                    throw WireError(.badPadding, "RTCP compound")
                }
                _ = try RTCPPacket.contentEnd(of: rest.slice(0, size), header)
            }
            offset += size
            count += 1
        }
        self.bytes = bytes
        self.packetCount = count
    }

    /// Iterates the packets in order.
    @inlinable public func makeIterator() -> Iterator { Iterator(rest: bytes) }

    /// Same as `packetCount`.
    @inlinable public var underestimatedCount: Int { packetCount }

    /// Iterator over the packets of a validated compound.
    public struct Iterator: IteratorProtocol {
        @usableFromInline var rest: UnsafeRawBufferPointer

        @inlinable init(rest: UnsafeRawBufferPointer) { self.rest = rest }

        /// The next packet, or nil at the end.
        @inlinable
        public mutating func next() -> RTCPPacket? {
            guard rest.count >= RTCPHeader.size else { return nil }
            let header = RTCPHeader(unchecked: rest)
            let size = header.packetSize
            guard size <= rest.count else { return nil }
            let packetBytes = rest.slice(0, size)
            let pad = header.padding ? Int(packetBytes[size - 1]) : 0
            rest = rest.slice(size, rest.count - size)
            return RTCPPacket(header: header, bytes: packetBytes, contentEnd: size - pad)
        }
    }

    /// Writes `packets` back to back into `out`, forming a compound; returns the bytes written.
    @inlinable
    public static func marshal<each P: RTCPPacketBuilder>(
        _ packets: repeat each P, into out: UnsafeMutableRawBufferPointer
    ) throws(WireError) -> Int {
        var offset = 0
        for packet in repeat each packets {
            guard out.count - offset >= packet.marshalSize else {
                throw WireError(.bufferTooSmall, "RTCP compound")
            }
            offset += try packet.marshal(into: UnsafeMutableRawBufferPointer(rebasing: out[offset...]))
        }
        return offset
    }

    /// Total size of `packets` written as one compound.
    @inlinable
    public static func marshalSize<each P: RTCPPacketBuilder>(_ packets: repeat each P) -> Int {
        var total = 0
        for packet in repeat each packets { total += packet.marshalSize }
        return total
    }
}
