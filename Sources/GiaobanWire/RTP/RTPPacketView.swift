/// A validated view of one RTP packet (RFC 3550 §5.1, header extension RFC 3550 §5.3.1
/// with RFC 8285 elements).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// |                           timestamp                           |
/// |           synchronization source (SSRC) identifier            |
/// |            contributing source (CSRC) identifiers             |  CC times
/// |      profile (0xBEDE...)      |           length              |  if X
/// |                      header extension ...                     |
/// |                           payload ...                         |
/// |                               | padding ...   | padding count |  if P
/// ```
///
/// The view stores the caller's bytes: it is valid only while the caller's buffer lives,
/// and it is not `Sendable` for that reason. `init` checks every length once; the accessors
/// then read at fixed offsets and never fail. Parsing does not allocate.
public struct RTPPacketView {
    /// The whole packet, as given to `init`.
    public let bytes: UnsafeRawBufferPointer
    /// Bytes before the payload: 12 + 4·CC + extension block (4 + 4·length) when X is set.
    public let headerLength: Int
    /// Padding bytes at the end, including the count byte itself; 0 when P is clear.
    public let paddingLength: Int
    /// The header extension elements (empty when X is clear).
    public let extensions: RTPHeaderExtensions

    /// Length of the fixed header (RFC 3550 §5.1).
    public static let fixedHeaderLength = 12

    /// Parses and validates `bytes` as an RTP packet.
    ///
    /// Throws `.truncated` when the header (fixed part, CSRCs or extension block) does not
    /// fit, `.badVersion` when V ≠ 2, `.badPadding` when P is set and the last byte is 0 or
    /// larger than what follows the header, `.badExtension` for a malformed RFC 8285 element.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.fixedHeaderLength else {
            throw WireError(.truncated, "RTP header")
        }
        let b0 = bytes[0]
        guard b0 >> 6 == 2 else { throw WireError(.badVersion, "RTP header") }
        var offset = Self.fixedHeaderLength + Int(b0 & 0x0F) * 4
        guard bytes.count >= offset else { throw WireError(.truncated, "RTP CSRC list") }
        if b0 & 0x10 != 0 {
            guard bytes.count - offset >= 4 else { throw WireError(.truncated, "RTP header extension") }
            let profile = bytes.u16(at: offset)
            let length = Int(bytes.u16(at: offset + 2)) * 4
            let start = offset + 4
            guard bytes.count - start >= length else { throw WireError(.truncated, "RTP header extension") }
            extensions = try RTPHeaderExtensions(
                profile: profile, bytes: bytes.slice(start, length), baseOffset: start)
            offset = start + length
        } else {
            extensions = RTPHeaderExtensions()
        }
        if b0 & 0x20 != 0 {
            let count = Int(bytes[bytes.count - 1])
            guard count > 0, count <= bytes.count - offset else {
                throw WireError(.badPadding, "RTP padding")
            }
            paddingLength = count
        } else {
            paddingLength = 0
        }
        self.bytes = bytes
        self.headerLength = offset
    }

    /// Version field; always 2 for a parsed packet.
    @inlinable public var version: UInt8 { bytes[0] >> 6 }
    /// P: the packet ends with padding.
    @inlinable public var hasPadding: Bool { bytes[0] & 0x20 != 0 }
    /// X: a header extension block follows the CSRCs.
    @inlinable public var hasExtension: Bool { bytes[0] & 0x10 != 0 }
    /// CC: the number of CSRC identifiers (0–15).
    @inlinable public var csrcCount: Int { Int(bytes[0] & 0x0F) }
    /// M: the marker bit (end of a video frame, start of a talkspurt).
    @inlinable public var marker: Bool { bytes[1] & 0x80 != 0 }
    /// PT: the 7-bit payload type.
    @inlinable public var payloadType: UInt8 { bytes[1] & 0x7F }
    /// The 16-bit sequence number; compare with `RTPSeq`, never with `<`.
    @inlinable public var sequenceNumber: UInt16 { bytes.u16(at: 2) }
    /// The 32-bit media timestamp; compare with `RTPTime`.
    @inlinable public var timestamp: UInt32 { bytes.u32(at: 4) }
    /// The synchronization source identifier.
    @inlinable public var ssrc: UInt32 { bytes.u32(at: 8) }
    /// The contributing sources, in order.
    @inlinable public var csrcs: CSRCs { CSRCs(bytes: bytes.slice(12, csrcCount * 4)) }

    /// Offset of the extension's profile word, or nil when X is clear.
    @inlinable public var extensionOffset: Int? {
        hasExtension ? Self.fixedHeaderLength + csrcCount * 4 : nil
    }
    /// The 16-bit extension profile (0xBEDE, 0x100X, or other), or nil when X is clear.
    @inlinable public var extensionProfile: UInt16? {
        hasExtension ? extensions.profile : nil
    }

    /// Offset of the first payload byte (equals `headerLength`).
    @inlinable public var payloadOffset: Int { headerLength }
    /// Payload bytes, excluding padding.
    @inlinable public var payloadLength: Int { bytes.count - headerLength - paddingLength }
    /// The payload, excluding padding.
    @inlinable public var payload: UnsafeRawBufferPointer { bytes.slice(headerLength, payloadLength) }

    /// The CSRC identifiers of a packet, read on demand (RFC 3550 §5.1).
    public struct CSRCs: Sequence {
        /// The 4·CC bytes of the CSRC list.
        public let bytes: UnsafeRawBufferPointer

        /// Wraps the CSRC bytes (a multiple of 4 long).
        @inlinable init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        /// The number of identifiers.
        @inlinable public var count: Int { bytes.count / 4 }
        /// The identifier at `index` (0 ..< count).
        @inlinable public subscript(index: Int) -> UInt32 { bytes.u32(at: index * 4) }

        /// Creates an iterator over the identifiers.
        @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes) }

        /// Yields each 32-bit identifier.
        public struct Iterator: IteratorProtocol {
            @usableFromInline let bytes: UnsafeRawBufferPointer
            @usableFromInline var offset = 0
            @inlinable init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

            /// The next identifier, or nil.
            @inlinable public mutating func next() -> UInt32? {
                guard bytes.count - offset >= 4 else { return nil }
                defer { offset += 4 }
                return bytes.u32(at: offset)
            }
        }
    }
}
