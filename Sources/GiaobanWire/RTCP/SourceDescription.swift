/// An SDES item type (RFC 3550 §6.5, §12.2); unknown values are kept.
public struct SDESItemType: RawRepresentable, Hashable, Sendable {
    /// The 8-bit item type.
    public var rawValue: UInt8
    /// Creates an item type from its value.
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// END: the null octet that ends a chunk's item list (§6.5).
    public static let end = SDESItemType(rawValue: 0)
    /// CNAME: canonical end-point identifier (§6.5.1).
    public static let cname = SDESItemType(rawValue: 1)
    /// NAME: user name (§6.5.2).
    public static let name = SDESItemType(rawValue: 2)
    /// EMAIL (§6.5.3).
    public static let email = SDESItemType(rawValue: 3)
    /// PHONE (§6.5.4).
    public static let phone = SDESItemType(rawValue: 4)
    /// LOC: location (§6.5.5).
    public static let location = SDESItemType(rawValue: 5)
    /// TOOL: application name (§6.5.6).
    public static let tool = SDESItemType(rawValue: 6)
    /// NOTE (§6.5.7).
    public static let note = SDESItemType(rawValue: 7)
    /// PRIV: private extension, value starts with its own prefix length (§6.5.8).
    public static let priv = SDESItemType(rawValue: 8)
}

/// SDES: source description (RFC 3550 §6.5), PT 202, source count SC in the header.
///
/// SC chunks follow the header, each starting on a 32-bit boundary: an SSRC/CSRC, then items
/// (type, length, that many octets of UTF-8 text), then one or more null octets ending the
/// list and padding to the next 32-bit boundary.
///
/// A view over the caller's bytes, valid while that buffer lives; `init` walks every chunk
/// and item once, so iteration afterwards cannot fail.
public struct SourceDescription: Sequence {
    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset just past the content (before padding).
    public let contentEnd: Int

    /// Parses one SDES packet spanning exactly `bytes`; checks every chunk and item.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let packet = try RTCPPacket.expect(bytes, .sourceDescription, "RTCP SDES")
        var offset = RTCPHeader.size
        for _ in 0..<Int(packet.header.count) {
            guard let next = SourceDescription.chunkEnd(bytes, offset, packet.contentEnd) else {
                throw WireError(.badLength, "RTCP SDES")
            }
            offset = next
        }
        guard offset == packet.contentEnd else { throw WireError(.badLength, "RTCP SDES") }
        self.bytes = bytes
        self.contentEnd = packet.contentEnd
    }

    /// SC: number of chunks.
    @inlinable public var chunkCount: Int { Int(bytes[0] & 0x1F) }
    /// Same as `chunkCount`.
    @inlinable public var underestimatedCount: Int { chunkCount }

    /// Where the chunk starting at `start` ends (after its null padding), or nil if it overruns `end`.
    @inlinable
    static func chunkEnd(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        var p = start + 4
        while p < end {
            let type = bytes[p]
            if type == 0 {
                // The first null ends the list; more nulls pad to a 32-bit boundary.
                let padded = (p + 1 + 3) & ~3
                return padded <= end ? padded : nil
            }
            guard p + 2 <= end else { return nil }
            p += 2 + Int(bytes[p + 1])
        }
        return nil
    }

    /// Iterates the chunks in order.
    @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes, offset: RTCPHeader.size, end: contentEnd) }

    /// Iterator over the chunks of a validated SDES packet.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset: Int
        @usableFromInline let end: Int

        @inlinable init(bytes: UnsafeRawBufferPointer, offset: Int, end: Int) {
            self.bytes = bytes
            self.offset = offset
            self.end = end
        }

        /// The next chunk, or nil at the end.
        @inlinable public mutating func next() -> Chunk? {
            guard offset < end, let next = SourceDescription.chunkEnd(bytes, offset, end) else { return nil }
            defer { offset = next }
            return Chunk(source: bytes.u32(at: offset), items: bytes.slice(offset + 4, next - offset - 4))
        }
    }

    /// One chunk: a source and its items.
    public struct Chunk: Sequence {
        /// SSRC or CSRC the items describe.
        public let source: UInt32
        /// The item list's bytes, null terminator and padding included.
        public let items: UnsafeRawBufferPointer

        @inlinable init(source: UInt32, items: UnsafeRawBufferPointer) {
            self.source = source
            self.items = items
        }

        /// The value of the first CNAME item, if any.
        @inlinable public var cname: UnsafeRawBufferPointer? {
            for item in self where item.type == .cname { return item.value }
            return nil
        }

        /// Iterates the items up to the null terminator.
        @inlinable public func makeIterator() -> ItemIterator { ItemIterator(bytes: items, offset: 0) }
    }

    /// One item: a type and its text.
    public struct Item {
        /// The item type.
        public let type: SDESItemType
        /// The item's octets (UTF-8 text; for PRIV, prefix length, prefix, value).
        public let value: UnsafeRawBufferPointer

        @inlinable init(type: SDESItemType, value: UnsafeRawBufferPointer) {
            self.type = type
            self.value = value
        }
    }

    /// Iterator over the items of a chunk.
    public struct ItemIterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset: Int

        @inlinable init(bytes: UnsafeRawBufferPointer, offset: Int) {
            self.bytes = bytes
            self.offset = offset
        }

        /// The next item, or nil at the terminator.
        @inlinable public mutating func next() -> Item? {
            guard offset + 2 <= bytes.count, bytes[offset] != 0 else { return nil }
            let length = Int(bytes[offset + 1])
            guard offset + 2 + length <= bytes.count else { return nil }
            defer { offset += 2 + length }
            return Item(type: SDESItemType(rawValue: bytes[offset]), value: bytes.slice(offset + 2, length))
        }
    }
}

/// Writes an SDES packet.
public struct SourceDescriptionBuilder: RTCPPacketBuilder, Equatable {
    /// One item to write: a type (not END) and up to 255 octets.
    public struct Item: Sendable, Equatable {
        /// The item type.
        public var type: SDESItemType
        /// The octets (UTF-8 text).
        public var value: [UInt8]

        /// Creates an item from raw octets.
        public init(type: SDESItemType, value: [UInt8]) {
            self.type = type
            self.value = value
        }

        /// Creates an item holding `text` as UTF-8.
        public init(type: SDESItemType, text: String) {
            self.init(type: type, value: Array(text.utf8))
        }

        /// A CNAME item (RFC 3550 §6.5.1).
        public static func cname(_ text: String) -> Item { Item(type: .cname, text: text) }
    }

    /// One chunk to write: a source and its items.
    public struct Chunk: Sendable, Equatable {
        /// SSRC or CSRC the items describe.
        public var source: UInt32
        /// The items, in order.
        public var items: [Item]

        /// Creates a chunk.
        public init(source: UInt32, items: [Item]) {
            self.source = source
            self.items = items
        }

        /// Bytes of this chunk: SSRC, items, then 1–4 nulls to the next 32-bit boundary.
        public var marshalSize: Int {
            var itemsSize = 0
            for item in items { itemsSize += 2 + item.value.count }
            return 4 + (itemsSize / 4 + 1) * 4
        }
    }

    /// The chunks, at most 31.
    public var chunks: [Chunk]

    /// Creates an SDES packet from its chunks.
    public init(chunks: [Chunk]) { self.chunks = chunks }

    /// An SDES packet with one chunk carrying only a CNAME, as every compound needs (RFC 3550 §6.1).
    public static func cname(source: UInt32, _ text: String) -> SourceDescriptionBuilder {
        SourceDescriptionBuilder(chunks: [Chunk(source: source, items: [.cname(text)])])
    }

    /// Copies the chunks and items of a parsed SDES packet.
    public init(_ view: SourceDescription) {
        var chunks: [Chunk] = []
        for chunk in view {
            var items: [Item] = []
            for item in chunk { items.append(Item(type: item.type, value: Array(item.value))) }
            chunks.append(Chunk(source: chunk.source, items: items))
        }
        self.init(chunks: chunks)
    }

    /// Header plus every chunk.
    public var marshalSize: Int {
        var size = RTCPHeader.size
        for chunk in chunks { size += chunk.marshalSize }
        return size
    }

    /// Writes the packet; throws `.badValue` for more than 31 chunks, an END item type or a
    /// value longer than 255 octets.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        try RTCPHeader.write(into: out, count: chunks.count, type: .sourceDescription, packetSize: size, "RTCP SDES")
        var offset = RTCPHeader.size
        for chunk in chunks {
            let chunkEnd = offset + chunk.marshalSize
            out.setU32(chunk.source, at: offset)
            offset += 4
            for item in chunk.items {
                guard item.type != .end, item.value.count <= 255 else { throw WireError(.badValue, "RTCP SDES") }
                out[offset] = item.type.rawValue
                out[offset + 1] = UInt8(item.value.count)
                for (i, byte) in item.value.enumerated() { out[offset + 2 + i] = byte }
                offset += 2 + item.value.count
            }
            while offset < chunkEnd {
                out[offset] = 0
                offset += 1
            }
        }
        return size
    }
}
