/// The RTP header a relay writes in front of a payload it sends (RFC 3550 §5.1): fixed
/// header, up to 4 CSRCs and up to 4 RFC 8285 §4.2 one-byte header extension elements of
/// up to 4 bytes each, all stored inline.
///
/// This is the egress step of the forwarding path: for each subscriber the relay fills one
/// of these with the subscriber's payload type, SSRC, sequence number and timestamp and
/// writes it with the publisher's payload straight into an output slot (`write(payload:into:)`).
/// Building and writing never allocate.
///
/// A value known only once the packet size is (the transport-wide sequence number, whose
/// sender records the size) is written after `write` at `elementDataOffset(_:)`, or set
/// with `setElementValue(_:at:)` after reading `marshalSize`: element sizes are fixed when
/// the element is appended.
public struct RTPEgressHeader: Sendable, Equatable {
    /// One one-byte-form extension element (RFC 8285 §4.2): local ID, data length, value.
    public struct Element: Sendable, Equatable {
        /// Local identifier, 1–14.
        public var id: UInt8
        /// Data length in bytes, 1–4.
        public var length: UInt8
        /// The data: the low `length` bytes of `value`, written big-endian.
        public var value: UInt32

        /// Creates an element; `append` checks the ranges.
        @inlinable public init(id: UInt8, length: UInt8, value: UInt32) {
            self.id = id
            self.length = length
            self.value = value
        }
    }

    /// How many CSRCs the header holds at most.
    public static let csrcCapacity = 4
    /// How many extension elements the header holds at most.
    public static let elementCapacity = 4
    /// The largest element data length, in bytes.
    public static let elementDataCapacity = 4
    /// Bytes `write(payload:into:)` keeps free after the packet: the SRTP authentication tag
    /// (10 bytes for AES-CM with HMAC-SHA1-80, RFC 3711 §4.2; 16 for AEAD-AES-GCM, RFC 7714 §8).
    public static let trailerRoom = 16

    /// M: the marker bit.
    public var marker: Bool
    /// PT: payload type; the high bit is ignored when writing.
    public var payloadType: UInt8
    /// The 16-bit sequence number.
    public var sequenceNumber: UInt16
    /// The 32-bit timestamp.
    public var timestamp: UInt32
    /// The synchronization source.
    public var ssrc: UInt32
    /// Number of CSRCs appended, 0–4.
    @inlinable public var csrcCount: Int { csrcsHeld }
    /// Number of extension elements appended, 0–4.
    @inlinable public var elementCount: Int { elementsHeld }

    @usableFromInline var csrcsHeld = 0
    @usableFromInline var elementsHeld = 0
    @usableFromInline var csrc0: UInt32 = 0
    @usableFromInline var csrc1: UInt32 = 0
    @usableFromInline var csrc2: UInt32 = 0
    @usableFromInline var csrc3: UInt32 = 0
    @usableFromInline var element0 = Element(id: 0, length: 0, value: 0)
    @usableFromInline var element1 = Element(id: 0, length: 0, value: 0)
    @usableFromInline var element2 = Element(id: 0, length: 0, value: 0)
    @usableFromInline var element3 = Element(id: 0, length: 0, value: 0)

    /// Creates a header with no CSRCs and no extension elements.
    @inlinable
    public init(payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, marker: Bool = false) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
    }

    /// Appends a contributing source; false (and no change) when 4 are already held.
    @inlinable @discardableResult
    public mutating func appendCSRC(_ csrc: UInt32) -> Bool {
        switch csrcCount {
        case 0: csrc0 = csrc
        case 1: csrc1 = csrc
        case 2: csrc2 = csrc
        case 3: csrc3 = csrc
        default: return false
        }
        csrcsHeld += 1
        return true
    }

    /// The CSRC at `index` (0..<csrcCount).
    @inlinable
    public func csrc(at index: Int) -> UInt32 {
        precondition(index >= 0 && index < csrcCount, "CSRC index out of range")
        switch index {
        case 0: return csrc0
        case 1: return csrc1
        case 2: return csrc2
        default: return csrc3
        }
    }

    /// Appends a one-byte-form element (RFC 8285 §4.2) whose data is the low `length` bytes
    /// of `value`, big-endian; false (and no change) when 4 elements are already held, `id`
    /// is outside 1–14 or `length` outside 1–4. Elements are written in the order appended.
    @inlinable @discardableResult
    public mutating func appendElement(id: UInt8, length: Int, value: UInt32 = 0) -> Bool {
        guard (1...14).contains(id), (1...Self.elementDataCapacity).contains(length) else { return false }
        let item = Element(id: id, length: UInt8(length), value: value)
        switch elementCount {
        case 0: element0 = item
        case 1: element1 = item
        case 2: element2 = item
        case 3: element3 = item
        default: return false
        }
        elementsHeld += 1
        return true
    }

    /// The element at `index` (0..<elementCount).
    @inlinable
    public func element(at index: Int) -> Element {
        precondition(index >= 0 && index < elementCount, "extension element index out of range")
        switch index {
        case 0: return element0
        case 1: return element1
        case 2: return element2
        default: return element3
        }
    }

    /// Replaces the value of the element at `index` (0..<elementCount); its size stays.
    @inlinable
    public mutating func setElementValue(_ value: UInt32, at index: Int) {
        precondition(index >= 0 && index < elementCount, "extension element index out of range")
        switch index {
        case 0: element0.value = value
        case 1: element1.value = value
        case 2: element2.value = value
        default: element3.value = value
        }
    }

    /// Size of the extension block: 0 without elements, else the 4-byte 0xBEDE word and the
    /// elements padded to a multiple of 4 bytes (RFC 8285 §4.2, RFC 3550 §5.3.1).
    @inlinable
    public var extensionSize: Int {
        guard elementCount > 0 else { return 0 }
        var bytes = 0
        for index in 0..<elementCount { bytes += 1 + Int(element(at: index).length) }
        return 4 + (bytes + 3) / 4 * 4
    }

    /// Header size: 12 + 4·CSRCs + extension block.
    @inlinable
    public var marshalSize: Int { 12 + csrcCount * 4 + extensionSize }

    /// Offset from the start of the packet of the data of the element at `index`
    /// (0..<elementCount), for writing a value into the packet after `write`.
    @inlinable
    public func elementDataOffset(_ index: Int) -> Int {
        precondition(index >= 0 && index < elementCount, "extension element index out of range")
        var at = 12 + csrcCount * 4 + 4
        for before in 0..<index { at += 1 + Int(element(at: before).length) }
        return at + 1
    }

    /// Writes the header into `out`; returns `marshalSize`. Throws `.bufferTooSmall` when
    /// `out` is short.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        guard out.count >= size else { throw WireError(.bufferTooSmall, "RTP egress header") }
        writeHeader(size: size, into: out)
        return size
    }

    /// Writes the header and then `payload` into `slot`; returns the packet length, or 0
    /// (writing nothing) when `slot` cannot also hold `trailerRoom` bytes after it.
    @inlinable
    public func write(payload: UnsafeRawBufferPointer, into slot: UnsafeMutableRawBufferPointer) -> Int {
        let header = marshalSize
        let length = header + payload.count
        guard length + Self.trailerRoom <= slot.count else { return 0 }
        writeHeader(size: header, into: slot)
        if let source = payload.baseAddress, payload.count > 0 {
            (slot.baseAddress! + header).copyMemory(from: source, byteCount: payload.count)
        }
        return length
    }

    /// Writes the `size`-byte header into `out`, which holds at least `size` bytes.
    @inlinable
    func writeHeader(size: Int, into out: UnsafeMutableRawBufferPointer) {
        let extended = elementCount > 0
        out[0] = 0x80 | (extended ? 0x10 : 0) | UInt8(csrcCount)  // version 2, X, CC
        out[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        out.setU16(sequenceNumber, at: 2)
        out.setU32(timestamp, at: 4)
        out.setU32(ssrc, at: 8)
        var at = 12
        for index in 0..<csrcCount {
            out.setU32(csrc(at: index), at: at)
            at += 4
        }
        guard extended else { return }
        out.setU16(RTPHeaderExtensionForm.oneByteProfile, at: at)
        out.setU16(UInt16((size - at - 4) / 4), at: at + 2)
        at += 4
        for index in 0..<elementCount {
            let item = element(at: index)
            let length = Int(item.length)
            out[at] = item.id << 4 | UInt8(length - 1)
            for byte in 0..<length {
                out[at + 1 + byte] = UInt8(truncatingIfNeeded: item.value >> (8 * (length - 1 - byte)))
            }
            at += 1 + length
        }
        while at < size {
            out[at] = 0
            at += 1
        }
    }
}
