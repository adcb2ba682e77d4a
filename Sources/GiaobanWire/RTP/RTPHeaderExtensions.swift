/// The two element layouts of an RTP header extension block (RFC 8285 §4.2, §4.3).
public enum RTPHeaderExtensionForm: Sendable, Equatable {
    /// One-byte headers, profile 0xBEDE: 4-bit ID (1–14), 4-bit length minus one (RFC 8285 §4.2).
    case oneByte
    /// Two-byte headers, profile 0x100X: 8-bit ID (1–255), 8-bit length (RFC 8285 §4.3).
    case twoByte
    /// Any other profile: the block is opaque and has no elements this layer can see.
    case opaque

    /// The profile value of the one-byte form (RFC 8285 §4.2).
    public static let oneByteProfile: UInt16 = 0xBEDE
    /// The profile value of the two-byte form with zero "appbits" (RFC 8285 §4.3).
    public static let twoByteProfile: UInt16 = 0x1000

    /// The form a block with this 16-bit `profile` uses.
    @inlinable
    public init(profile: UInt16) {
        if profile == Self.oneByteProfile {
            self = .oneByte
        } else if profile & 0xFFF0 == Self.twoByteProfile {
            self = .twoByte
        } else {
            self = .opaque
        }
    }
}

/// One header extension element: its local ID and a view of its data (RFC 8285 §4.1).
///
/// `data` borrows the parsed buffer and is valid while that buffer lives.
public struct RTPHeaderExtensionElement {
    /// The local identifier negotiated in SDP (`a=extmap`, RFC 8285 §5): 1–14 or 1–255.
    public let id: UInt8
    /// Offset of the element's first data byte from the start of the parsed buffer
    /// (the RTP packet when obtained from `RTPPacketView`); use it for in-place rewrites.
    public let dataOffset: Int
    /// The element's data bytes.
    public let data: UnsafeRawBufferPointer

    /// Creates an element record; normally produced by iterating `RTPHeaderExtensions`.
    @inlinable
    public init(id: UInt8, dataOffset: Int, data: UnsafeRawBufferPointer) {
        self.id = id
        self.dataOffset = dataOffset
        self.data = data
    }
}

/// A validated view of the elements of one RTP header extension block (RFC 8285 §4).
///
/// Holds the caller's bytes (valid while the caller's buffer lives). Iteration yields
/// `RTPHeaderExtensionElement`s in wire order, skipping padding (ID 0) and stopping at
/// one-byte ID 15 (RFC 8285 §4.2). Neither iteration nor `element(id:)` allocates.
public struct RTPHeaderExtensions: Sequence {
    /// The element layout, decided by the profile.
    public let form: RTPHeaderExtensionForm
    /// The 16-bit profile field ("defined by profile", RFC 3550 §5.3.1); 0 when absent.
    public let profile: UInt16
    /// The extension data (after the 4-byte profile/length word); empty when absent.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of `bytes` within the parsed packet; element offsets are relative to the packet.
    public let baseOffset: Int

    /// An empty block (no extension present).
    @inlinable
    public init() {
        form = .opaque
        profile = 0
        bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        baseOffset = 0
    }

    /// Validates the element data `bytes` of a block with `profile`; element offsets are
    /// reported as `baseOffset + position in bytes`. Throws `.badExtension` when an element
    /// runs past the end of the block.
    @inlinable
    public init(profile: UInt16, bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) throws(WireError) {
        self.form = RTPHeaderExtensionForm(profile: profile)
        self.profile = profile
        self.bytes = bytes
        self.baseOffset = baseOffset
        switch form {
        case .opaque:
            return
        case .oneByte:
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                let id = b >> 4
                if id == 0 { i += 1; continue }  // padding byte, length ignored
                if id == 15 { return }  // reserved: stop processing (RFC 8285 §4.2)
                let length = Int(b & 0x0F) + 1
                guard bytes.count - (i + 1) >= length else {
                    throw WireError(.badExtension, "RTP one-byte header extension element")
                }
                i += 1 + length
            }
        case .twoByte:
            var i = 0
            while i < bytes.count {
                if bytes[i] == 0 { i += 1; continue }  // padding byte
                guard bytes.count - i >= 2 else {
                    throw WireError(.badExtension, "RTP two-byte header extension element")
                }
                let length = Int(bytes[i + 1])
                guard bytes.count - (i + 2) >= length else {
                    throw WireError(.badExtension, "RTP two-byte header extension element")
                }
                i += 2 + length
            }
        }
    }

    /// The first element with local identifier `id`, or nil; does not allocate.
    @inlinable
    public func element(id: UInt8) -> RTPHeaderExtensionElement? {
        var it = makeIterator()
        while let e = it.next() {
            if e.id == id { return e }
        }
        return nil
    }

    /// True when the block holds no visible element.
    @inlinable
    public var isEmpty: Bool {
        var it = makeIterator()
        return it.next() == nil
    }

    /// Creates an iterator over the elements.
    @inlinable
    public func makeIterator() -> Iterator {
        Iterator(extensions: self)
    }

    /// Walks the elements of a validated block.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let extensions: RTPHeaderExtensions
        @usableFromInline var position = 0

        @inlinable
        init(extensions: RTPHeaderExtensions) {
            self.extensions = extensions
        }

        /// The next element, or nil at the end of the block (or at one-byte ID 15).
        @inlinable
        public mutating func next() -> RTPHeaderExtensionElement? {
            let bytes = extensions.bytes
            switch extensions.form {
            case .opaque:
                return nil
            case .oneByte:
                while position < bytes.count {
                    let b = bytes[position]
                    let id = b >> 4
                    if id == 0 { position += 1; continue }
                    if id == 15 { position = bytes.count; return nil }
                    let length = Int(b & 0x0F) + 1
                    let start = position + 1
                    guard bytes.count - start >= length else { position = bytes.count; return nil }
                    position = start + length
                    return RTPHeaderExtensionElement(
                        id: id, dataOffset: extensions.baseOffset + start, data: bytes.slice(start, length))
                }
                return nil
            case .twoByte:
                while position < bytes.count {
                    let id = bytes[position]
                    if id == 0 { position += 1; continue }
                    guard bytes.count - position >= 2 else { position = bytes.count; return nil }
                    let length = Int(bytes[position + 1])
                    let start = position + 2
                    guard bytes.count - start >= length else { position = bytes.count; return nil }
                    position = start + length
                    return RTPHeaderExtensionElement(
                        id: id, dataOffset: extensions.baseOffset + start, data: bytes.slice(start, length))
                }
                return nil
            }
        }
    }
}
