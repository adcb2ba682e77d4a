/// One Generic NACK FCI entry (RFC 4585 §6.2.1): a lost packet ID and a bitmask of the
/// sixteen following packets also lost (bit i set: PID + i + 1 lost).
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |            PID                |             BLP               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
public struct NACKItem: Sendable, Equatable, Sequence {
    /// PID: RTP sequence number of a lost packet.
    public var packetID: UInt16
    /// BLP: bitmask of following lost packets, least significant bit = PID + 1.
    public var lostBitmask: UInt16

    /// Creates an item.
    @inlinable public init(packetID: UInt16, lostBitmask: UInt16 = 0) {
        self.packetID = packetID
        self.lostBitmask = lostBitmask
    }

    /// Calls `body` with each sequence number this item reports lost, in order (wrapping past 65535).
    @inlinable
    public func forEachLost<E: Error>(_ body: (UInt16) throws(E) -> Void) throws(E) {
        try body(packetID)
        var mask = lostBitmask
        while mask != 0 {
            let bit = mask.trailingZeroBitCount
            try body(packetID &+ UInt16(bit + 1))
            mask &= mask &- 1
        }
    }

    /// Iterates the lost sequence numbers, PID first; does not allocate.
    @inlinable public func makeIterator() -> Iterator { Iterator(item: self) }

    /// Iterator over the sequence numbers of one item.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let packetID: UInt16
        @usableFromInline var mask: UInt32

        @inlinable init(item: NACKItem) {
            packetID = item.packetID
            // Bit 0 stands for PID itself, bits 1...16 for BLP.
            mask = UInt32(item.lostBitmask) << 1 | 1
        }

        /// The next lost sequence number, or nil.
        @inlinable public mutating func next() -> UInt16? {
            guard mask != 0 else { return nil }
            let bit = mask.trailingZeroBitCount
            mask &= mask &- 1
            return packetID &+ UInt16(truncatingIfNeeded: bit)
        }
    }

    /// Packs lost sequence numbers, given in increasing serial order (RFC 1982, wrapping at
    /// 65535), into as few items as possible. Duplicates are dropped; a number behind the
    /// current item starts a new item rather than being lost.
    public static func pack(_ lost: some Sequence<UInt16>) -> [NACKItem] {
        var items: [NACKItem] = []
        for seq in lost {
            if let last = items.last {
                let distance = RTPSeq.distance(from: last.packetID, to: seq)
                if distance == 0 { continue }
                if distance >= 1, distance <= 16 {
                    items[items.count - 1].lostBitmask |= 1 << UInt16(distance - 1)
                    continue
                }
            }
            items.append(NACKItem(packetID: seq))
        }
        return items
    }
}

/// Generic NACK (RFC 4585 §6.2.1): RTPFB (PT 205) with FMT 1, FCI a list of `NACKItem`s.
///
/// A view over the caller's bytes, valid while that buffer lives.
public struct GenericNACK: Sequence {
    /// FMT of a Generic NACK.
    public static let format: UInt8 = 1

    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Number of FCI items.
    public let count: Int

    /// Parses one Generic NACK spanning exactly `bytes`; at least one item, four bytes each.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let (_, fciLength) = try RTCPFeedback.expect(
            bytes, .transportFeedback, format: GenericNACK.format, "RTCP NACK")
        guard fciLength >= 4, fciLength % 4 == 0 else { throw WireError(.badLength, "RTCP NACK") }
        self.bytes = bytes
        self.count = fciLength / 4
    }

    /// SSRC of the packet sender.
    @inlinable public var senderSSRC: UInt32 { bytes.u32(at: 4) }
    /// SSRC of the media source whose packets were lost.
    @inlinable public var mediaSSRC: UInt32 { bytes.u32(at: 8) }
    /// Same as `count`.
    @inlinable public var underestimatedCount: Int { count }

    /// The item at `index` (0 ..< count).
    @inlinable public subscript(index: Int) -> NACKItem {
        let offset = RTCPFeedback.fixedSize + index * 4
        return NACKItem(packetID: bytes.u16(at: offset), lostBitmask: bytes.u16(at: offset + 2))
    }

    /// Calls `body` with every sequence number reported lost, item by item; does not allocate.
    @inlinable
    public func forEachLost<E: Error>(_ body: (UInt16) throws(E) -> Void) throws(E) {
        for index in 0..<count { try self[index].forEachLost(body) }
    }

    /// Iterates the items in order.
    @inlinable public func makeIterator() -> Iterator { Iterator(nack: self, index: 0) }

    /// Iterator over the items of a Generic NACK.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let nack: GenericNACK
        @usableFromInline var index: Int

        @inlinable init(nack: GenericNACK, index: Int) {
            self.nack = nack
            self.index = index
        }

        /// The next item, or nil at the end.
        @inlinable public mutating func next() -> NACKItem? {
            guard index < nack.count else { return nil }
            defer { index += 1 }
            return nack[index]
        }
    }
}

/// Writes a Generic NACK.
public struct GenericNACKBuilder: RTCPPacketBuilder, Equatable {
    /// SSRC of the packet sender.
    public var senderSSRC: UInt32
    /// SSRC of the media source whose packets were lost.
    public var mediaSSRC: UInt32
    /// The items, at least one.
    public var items: [NACKItem]

    /// Creates a NACK from items.
    public init(senderSSRC: UInt32, mediaSSRC: UInt32, items: [NACKItem]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.items = items
    }

    /// Creates a NACK from lost sequence numbers in increasing serial order (see `NACKItem.pack`).
    public init(senderSSRC: UInt32, mediaSSRC: UInt32, lost: some Sequence<UInt16>) {
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, items: NACKItem.pack(lost))
    }

    /// Copies the SSRCs and items of a parsed NACK.
    public init(_ view: GenericNACK) {
        self.init(senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC, items: Array(view))
    }

    /// 12 bytes plus four per item.
    public var marshalSize: Int { RTCPFeedback.fixedSize + items.count * 4 }

    /// Writes the packet; throws `.badValue` without items.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard !items.isEmpty else { throw WireError(.badValue, "RTCP NACK") }
        let size = marshalSize
        try RTCPFeedback.writeHeader(
            into: out, type: .transportFeedback, format: GenericNACK.format,
            packetSize: size, senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, "RTCP NACK")
        var offset = RTCPFeedback.fixedSize
        for item in items {
            out.setU16(item.packetID, at: offset)
            out.setU16(item.lostBitmask, at: offset + 2)
            offset += 4
        }
        return size
    }
}
