/// One attribute of a parsed STUN message (RFC 8489 §14): type and value bytes, with typed
/// decoders for the attributes ICE uses.
///
/// Like the message view it comes from, it points into the caller's buffer and is valid
/// only while that buffer lives. The decoders throw `.badAttribute` for a value whose length
/// or content does not fit the attribute's format; they do not allocate.
public struct STUNAttribute {
    /// The attribute type.
    public let type: STUNAttributeType
    /// The value, without padding.
    public let value: UnsafeRawBufferPointer
    /// Offset of the attribute header within the message.
    public let offset: Int

    /// Creates an attribute from its parts.
    @inlinable
    public init(type: STUNAttributeType, value: UnsafeRawBufferPointer, offset: Int) {
        self.type = type
        self.value = value
        self.offset = offset
    }

    /// MAPPED-ADDRESS (RFC 8489 §14.1): family, port, address in the clear.
    @inlinable
    public func mappedAddress() throws(WireError) -> STUNAddress {
        try STUNAddress(value: value, xor: nil)
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), unmasked with the cookie and `transactionID`.
    @inlinable
    public func xorMappedAddress(transactionID: STUNTransactionID) throws(WireError) -> STUNAddress {
        try STUNAddress(value: value, xor: transactionID)
    }

    /// A 32-bit value: PRIORITY (RFC 8445 §7.1.1).
    @inlinable
    public func uint32() throws(WireError) -> UInt32 {
        guard value.count == 4 else { throw WireError(.badAttribute, "STUN 32-bit attribute") }
        return value.u32(at: 0)
    }

    /// A 64-bit value: the tie-breaker of ICE-CONTROLLED / ICE-CONTROLLING (RFC 8445 §7.1.3).
    @inlinable
    public func uint64() throws(WireError) -> UInt64 {
        guard value.count == 8 else { throw WireError(.badAttribute, "STUN 64-bit attribute") }
        return value.u64(at: 0)
    }

    /// ERROR-CODE (RFC 8489 §14.8): class 3–6 and number 0–99, then a UTF-8 reason phrase.
    @inlinable
    public func errorCode() throws(WireError) -> STUNErrorCodeView {
        guard value.count >= 4 else { throw WireError(.badAttribute, "STUN ERROR-CODE") }
        let errorClass = UInt16(value[2] & 0x07)
        let number = UInt16(value[3])
        guard errorClass >= 3, errorClass <= 6, number < 100 else {
            throw WireError(.badAttribute, "STUN ERROR-CODE")
        }
        return STUNErrorCodeView(code: errorClass * 100 + number, reason: value.slice(4, value.count - 4))
    }

    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): a list of 16-bit attribute types.
    @inlinable
    public func unknownAttributes() throws(WireError) -> STUNUnknownAttributes {
        guard value.count & 1 == 0 else { throw WireError(.badAttribute, "STUN UNKNOWN-ATTRIBUTES") }
        return STUNUnknownAttributes(value)
    }

    /// True when the value is exactly the UTF-8 bytes of `text` (e.g. an expected USERNAME);
    /// does not allocate.
    @inlinable
    public func valueEquals(_ text: String) -> Bool {
        guard text.utf8.count == value.count else { return false }
        var index = 0
        for byte in text.utf8 {
            guard value[index] == byte else { return false }
            index += 1
        }
        return true
    }

    /// The value decoded as UTF-8 text: USERNAME, SOFTWARE, REALM, NONCE (allocates for
    /// more than 15 bytes; invalid sequences become U+FFFD).
    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// A decoded ERROR-CODE attribute (RFC 8489 §14.8); the reason points into the message.
public struct STUNErrorCodeView {
    /// The code, 300–699 (class × 100 + number).
    public let code: UInt16
    /// The UTF-8 reason phrase.
    public let reason: UnsafeRawBufferPointer

    /// Creates a view from its parts.
    @inlinable
    public init(code: UInt16, reason: UnsafeRawBufferPointer) {
        self.code = code
        self.reason = reason
    }

    /// The reason phrase as a String (allocates).
    public var reasonText: String { String(decoding: reason, as: UTF8.self) }
}

/// The attribute types listed in UNKNOWN-ATTRIBUTES (RFC 8489 §14.13), iterated in place.
public struct STUNUnknownAttributes: Sequence {
    /// The attribute value: 2 bytes per type.
    @usableFromInline let value: UnsafeRawBufferPointer

    /// Creates the list over a value of even length.
    @inlinable init(_ value: UnsafeRawBufferPointer) { self.value = value }

    /// The number of listed types.
    @inlinable public var count: Int { value.count / 2 }

    /// Walks the listed types in order.
    @inlinable
    public func makeIterator() -> Iterator { Iterator(value: value, offset: 0) }

    /// Yields each listed type.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let value: UnsafeRawBufferPointer
        @usableFromInline var offset: Int

        @inlinable
        init(value: UnsafeRawBufferPointer, offset: Int) {
            self.value = value
            self.offset = offset
        }

        /// The next listed type, or nil.
        @inlinable
        public mutating func next() -> STUNAttributeType? {
            guard value.count - offset >= 2 else { return nil }
            defer { offset += 2 }
            return STUNAttributeType(rawValue: value.u16(at: offset))
        }
    }
}

extension STUNMessageView {
    /// USERNAME (RFC 8489 §14.3): for ICE, "remote-ufrag:local-ufrag" as the receiver sees it.
    @inlinable public var username: STUNAttribute? { attribute(.username) }
    /// SOFTWARE (RFC 8489 §14.14).
    @inlinable public var software: STUNAttribute? { attribute(.software) }
    /// REALM (RFC 8489 §14.9).
    @inlinable public var realm: STUNAttribute? { attribute(.realm) }
    /// NONCE (RFC 8489 §14.10).
    @inlinable public var nonce: STUNAttribute? { attribute(.nonce) }
    /// USE-CANDIDATE present (RFC 8445 §7.1.2).
    @inlinable public var useCandidate: Bool { attribute(.useCandidate) != nil }

    /// PRIORITY (RFC 8445 §7.1.1), or nil when absent.
    @inlinable
    public func priority() throws(WireError) -> UInt32? {
        try attribute(.priority)?.uint32()
    }

    /// The ICE-CONTROLLING tie-breaker (RFC 8445 §7.1.3), or nil when absent.
    @inlinable
    public func iceControlling() throws(WireError) -> UInt64? {
        try attribute(.iceControlling)?.uint64()
    }

    /// The ICE-CONTROLLED tie-breaker (RFC 8445 §7.1.3), or nil when absent.
    @inlinable
    public func iceControlled() throws(WireError) -> UInt64? {
        try attribute(.iceControlled)?.uint64()
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), unmasked, or nil when absent.
    @inlinable
    public func xorMappedAddress() throws(WireError) -> STUNAddress? {
        try attribute(.xorMappedAddress)?.xorMappedAddress(transactionID: transactionID)
    }

    /// MAPPED-ADDRESS (RFC 8489 §14.1), or nil when absent.
    @inlinable
    public func mappedAddress() throws(WireError) -> STUNAddress? {
        try attribute(.mappedAddress)?.mappedAddress()
    }

    /// ERROR-CODE (RFC 8489 §14.8), or nil when absent.
    @inlinable
    public func errorCode() throws(WireError) -> STUNErrorCodeView? {
        try attribute(.errorCode)?.errorCode()
    }

    /// The comprehension-required types this module does not understand, for the
    /// UNKNOWN-ATTRIBUTES of a 420 response (RFC 8489 §6.3.1.1); allocates only when some.
    public func unknownComprehensionRequiredTypes() -> [STUNAttributeType] {
        var unknown: [STUNAttributeType] = []
        for attribute in attributes where attribute.type.isComprehensionRequired && !attribute.type.isUnderstood {
            unknown.append(attribute.type)
        }
        return unknown
    }
}
