/// A validated view of one STUN message (RFC 8489 §5, §6, §14).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |0 0|     STUN Message Type     |         Message Length        |
/// |                         Magic Cookie                          |
/// |                     Transaction ID (96 bits)                  |
/// |         Type                  |            Length             |  per attribute,
/// |                         Value (variable, padded to 4)     ....  then the next
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The view stores the caller's bytes: it is valid only while the caller's buffer lives,
/// and it is not `Sendable` for that reason. `init` checks the header and every attribute
/// length once, and where MESSAGE-INTEGRITY and FINGERPRINT sit; accessors then read at
/// validated offsets. Neither parsing nor the integrity and fingerprint checks allocate.
///
/// Attribute order rules (RFC 8489 §14.5–§14.7): attributes after MESSAGE-INTEGRITY other
/// than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored (not yielded by `attributes`),
/// likewise everything but FINGERPRINT after a MESSAGE-INTEGRITY-SHA256 that is not preceded
/// by MESSAGE-INTEGRITY; any attribute after FINGERPRINT makes the message invalid.
public struct STUNMessageView {
    /// The fixed header length.
    public static let headerByteCount = 20
    /// The magic cookie, bytes 4–7 of every RFC 5389/8489 message (§5).
    public static let magicCookie: UInt32 = 0x2112_A442
    /// The constant FINGERPRINT XORs into the CRC-32 (§14.7): "STUN" in ASCII.
    public static let fingerprintXOR: UInt32 = 0x5354_554E

    /// The whole message, exactly 20 + Message Length bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Method and class.
    public let type: STUNMessageType
    /// The 96-bit transaction ID.
    public let transactionID: STUNTransactionID
    /// Offset of the MESSAGE-INTEGRITY attribute header that counts, or -1.
    public let integrityOffset: Int
    /// Offset of the FINGERPRINT attribute header, or -1.
    public let fingerprintOffset: Int

    /// RFC 7983 §7 demultiplexing test: at least a header, first byte 0–3, magic cookie.
    @inlinable
    public static func isSTUN(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= headerByteCount && bytes[0] < 4 && bytes.u32(at: 4) == magicCookie
    }

    /// Parses and validates `bytes` as one whole STUN message (a UDP datagram's payload).
    ///
    /// Throws `.truncated` when fewer than 20 bytes are given or an attribute runs past the
    /// end, `.badValue` when the two leading bits are not zero, `.badVersion` without the
    /// magic cookie (an RFC 3489 message), `.badLength` when Message Length is not a multiple
    /// of 4 or disagrees with the byte count, `.badAttribute` when MESSAGE-INTEGRITY or
    /// FINGERPRINT has the wrong size or an attribute follows FINGERPRINT.
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let header = Self.headerByteCount
        guard bytes.count >= header else { throw WireError(.truncated, "STUN header") }
        guard bytes[0] & 0xC0 == 0 else { throw WireError(.badValue, "STUN header") }
        guard bytes.u32(at: 4) == Self.magicCookie else { throw WireError(.badVersion, "STUN magic cookie") }
        let length = Int(bytes.u16(at: 2))
        guard length & 3 == 0, bytes.count - header == length else {
            throw WireError(.badLength, "STUN message length")
        }
        var offset = header
        var integrity = -1
        var fingerprint = -1
        var phase = STUNAttributeSequence.Phase.open
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw WireError(.truncated, "STUN attribute header") }
            let type = bytes.u16(at: offset)
            let valueLength = Int(bytes.u16(at: offset + 2))
            guard bytes.count - offset - 4 >= valueLength else { throw WireError(.truncated, "STUN attribute") }
            guard fingerprint < 0 else { throw WireError(.badAttribute, "STUN attribute after FINGERPRINT") }
            switch type {
            case STUNAttributeType.messageIntegrity.rawValue where phase == .open:
                guard valueLength == SHA1.digestByteCount else {
                    throw WireError(.badAttribute, "STUN MESSAGE-INTEGRITY")
                }
                integrity = offset
            case STUNAttributeType.messageIntegritySHA256.rawValue where phase != .afterSHA256:
                guard valueLength >= 16, valueLength <= 32, valueLength & 3 == 0 else {
                    throw WireError(.badAttribute, "STUN MESSAGE-INTEGRITY-SHA256")
                }
            case STUNAttributeType.fingerprint.rawValue:
                guard valueLength == 4 else { throw WireError(.badAttribute, "STUN FINGERPRINT") }
                fingerprint = offset
            default:
                break
            }
            phase = phase.after(type)
            // Lengths are multiples of 4, so the padded value still fits.
            offset += 4 + ((valueLength + 3) & ~3)
        }
        self.bytes = bytes
        self.type = STUNMessageType(rawValue: bytes.u16(at: 0))
        self.transactionID = STUNTransactionID(reading: bytes, at: 8)
        self.integrityOffset = integrity
        self.fingerprintOffset = fingerprint
    }

    /// The Message Length field: bytes after the header.
    @inlinable public var length: Int { bytes.count - Self.headerByteCount }

    /// The attributes in order, without those the rules above say to ignore.
    @inlinable
    public var attributes: STUNAttributeSequence { STUNAttributeSequence(bytes) }

    /// The first (not ignored) attribute of `type`, or nil.
    @inlinable
    public func attribute(_ type: STUNAttributeType) -> STUNAttribute? {
        for attribute in attributes where attribute.type == type { return attribute }
        return nil
    }

    /// True when a MESSAGE-INTEGRITY attribute counts for this message.
    @inlinable public var hasMessageIntegrity: Bool { integrityOffset >= 0 }
    /// True when the message ends with FINGERPRINT.
    @inlinable public var hasFingerprint: Bool { fingerprintOffset >= 0 }

    /// Checks MESSAGE-INTEGRITY with an HMAC already keyed by the short-term password or the
    /// long-term key (RFC 8489 §14.5): HMAC-SHA1 over the message up to the attribute, with
    /// Message Length rewritten to end just after it.
    ///
    /// Throws `.badIntegrity` when the attribute is absent or the HMAC does not match.
    public func verifyMessageIntegrity(_ key: HMACSHA1) throws(WireError) {
        guard integrityOffset >= 0 else { throw WireError(.badIntegrity, "STUN MESSAGE-INTEGRITY absent") }
        var mac = key
        var header: (UInt64, UInt64, UInt32) = (0, 0, 0)
        withUnsafeMutableBytes(of: &header) { copy in
            copy.copyMemory(from: bytes.slice(0, Self.headerByteCount))
            copy.setU16(UInt16(truncatingIfNeeded: integrityOffset + 4 + SHA1.digestByteCount - Self.headerByteCount), at: 2)
            mac.update(UnsafeRawBufferPointer(copy))
        }
        mac.update(bytes.slice(Self.headerByteCount, integrityOffset - Self.headerByteCount))
        guard mac.finalize().matches(bytes.slice(integrityOffset + 4, SHA1.digestByteCount)) else {
            throw WireError(.badIntegrity, "STUN MESSAGE-INTEGRITY")
        }
    }

    /// Checks MESSAGE-INTEGRITY with `key` (the password bytes for short-term credentials).
    public func verifyMessageIntegrity(key: UnsafeRawBufferPointer) throws(WireError) {
        try verifyMessageIntegrity(HMACSHA1(key: key))
    }

    /// Checks MESSAGE-INTEGRITY with the UTF-8 bytes of an ICE short-term password.
    public func verifyMessageIntegrity(password: String) throws(WireError) {
        try verifyMessageIntegrity(HMACSHA1(key: password))
    }

    /// Checks FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message up to the attribute,
    /// XOR 0x5354554E. Throws `.badFingerprint` when absent or different.
    public func verifyFingerprint() throws(WireError) {
        guard fingerprintOffset >= 0 else { throw WireError(.badFingerprint, "STUN FINGERPRINT absent") }
        let expected = CRC32.checksum(bytes.slice(0, fingerprintOffset)) ^ Self.fingerprintXOR
        guard bytes.u32(at: fingerprintOffset + 4) == expected else {
            throw WireError(.badFingerprint, "STUN FINGERPRINT")
        }
    }
}

/// The attributes of a validated STUN message, iterated over its bytes (no array is built).
public struct STUNAttributeSequence: Sequence {
    /// Where the walk is relative to the integrity attributes (RFC 8489 §14.5, §14.6).
    @usableFromInline
    enum Phase: Sendable {
        /// Before any integrity attribute: everything counts.
        case open
        /// After MESSAGE-INTEGRITY: only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count.
        case afterSHA1
        /// After MESSAGE-INTEGRITY-SHA256 alone: only FINGERPRINT counts.
        case afterSHA256

        /// The phase after an attribute of `type` was seen in this phase.
        @inlinable
        func after(_ type: UInt16) -> Phase {
            switch (self, type) {
            case (.open, STUNAttributeType.messageIntegrity.rawValue): .afterSHA1
            case (.open, STUNAttributeType.messageIntegritySHA256.rawValue): .afterSHA256
            default: self
            }
        }

        /// True when an attribute of `type` counts in this phase.
        @inlinable
        func admits(_ type: UInt16) -> Bool {
            switch self {
            case .open: true
            case .afterSHA1: type == STUNAttributeType.messageIntegritySHA256.rawValue
                || type == STUNAttributeType.fingerprint.rawValue
            case .afterSHA256: type == STUNAttributeType.fingerprint.rawValue
            }
        }
    }

    /// The whole message; its attribute lengths were validated by `STUNMessageView.init`.
    @usableFromInline let bytes: UnsafeRawBufferPointer

    /// Creates the sequence over a validated message.
    @inlinable init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Walks the attributes from the first one after the header.
    @inlinable
    public func makeIterator() -> Iterator {
        Iterator(bytes: bytes, offset: STUNMessageView.headerByteCount, phase: .open)
    }

    /// Yields each attribute that counts, in order.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset: Int
        @usableFromInline var phase: Phase

        @inlinable
        init(bytes: UnsafeRawBufferPointer, offset: Int, phase: Phase) {
            self.bytes = bytes
            self.offset = offset
            self.phase = phase
        }

        /// The next attribute, or nil at the end of the message.
        @inlinable
        public mutating func next() -> STUNAttribute? {
            while bytes.count - offset >= 4 {
                let type = bytes.u16(at: offset)
                let length = Int(bytes.u16(at: offset + 2))
                guard bytes.count - offset - 4 >= length else { return nil }
                let attribute = STUNAttribute(
                    type: STUNAttributeType(rawValue: type), value: bytes.slice(offset + 4, length), offset: offset)
                offset += 4 + ((length + 3) & ~3)
                let counts = phase.admits(type)
                phase = phase.after(type)
                if counts { return attribute }
            }
            return nil
        }
    }
}
