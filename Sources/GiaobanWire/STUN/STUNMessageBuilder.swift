/// Builds a STUN message (RFC 8489 §5, §6): header, attributes in the order appended, then
/// MESSAGE-INTEGRITY (HMAC-SHA1, §14.5) when a key is set and FINGERPRINT (§14.7) when asked.
///
/// The builder is a value holding at most `STUNAttributeList.capacity` attributes inline and
/// the pre-keyed HMAC: building and marshalling the usual ICE responses (see
/// `bindingSuccess` and `bindingError`) does not allocate.
public struct STUNMessageBuilder: Sendable {
    /// Method and class.
    public var type: STUNMessageType
    /// The transaction ID; a response copies the request's.
    public var transactionID: STUNTransactionID
    /// The attributes, written in this order.
    public var attributes: STUNAttributeList
    /// When set, MESSAGE-INTEGRITY is computed with this key and appended after `attributes`.
    public var integrityKey: HMACSHA1?
    /// When true, FINGERPRINT is appended last.
    public var fingerprint: Bool
    /// The byte written into attribute padding. RFC 8489 §14 lets it be any value and has
    /// receivers ignore it; 0 by default (RFC 5769's vectors happen to use 0x20).
    public var paddingByte: UInt8

    /// A message with no attributes yet.
    public init(type: STUNMessageType, transactionID: STUNTransactionID,
                integrityKey: HMACSHA1? = nil, fingerprint: Bool = false) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = STUNAttributeList()
        self.integrityKey = integrityKey
        self.fingerprint = fingerprint
        self.paddingByte = 0
    }

    /// Appends an attribute; throws `.bufferTooSmall` past `STUNAttributeList.capacity`.
    public mutating func append(_ value: STUNAttributeValue) throws(WireError) {
        try attributes.append(value)
    }

    /// The ICE binding success response (RFC 8445 §7.3.1.4): XOR-MAPPED-ADDRESS set to the
    /// request's source, MESSAGE-INTEGRITY with the local password, FINGERPRINT.
    public static func bindingSuccess(transactionID: STUNTransactionID, mappedAddress: STUNAddress,
                                      integrityKey: HMACSHA1?, fingerprint: Bool = true) -> STUNMessageBuilder {
        var builder = STUNMessageBuilder(type: .bindingSuccess, transactionID: transactionID,
                                         integrityKey: integrityKey, fingerprint: fingerprint)
        builder.attributes.appendFirst(.xorMappedAddress(mappedAddress))
        return builder
    }

    /// A binding error response (RFC 8489 §6.3.1.1, RFC 8445 §7.3.1.1): ERROR-CODE, then
    /// MESSAGE-INTEGRITY when a key is given (not for 400/401, whose request was not
    /// authenticated) and FINGERPRINT.
    public static func bindingError(transactionID: STUNTransactionID, error: STUNErrorCode,
                                    integrityKey: HMACSHA1? = nil, fingerprint: Bool = true) -> STUNMessageBuilder {
        var builder = STUNMessageBuilder(type: .bindingError, transactionID: transactionID,
                                         integrityKey: integrityKey, fingerprint: fingerprint)
        builder.attributes.appendFirst(.errorCode(error))
        return builder
    }

    /// The bytes `marshal` writes.
    public var marshalSize: Int {
        var size = STUNMessageView.headerByteCount
        // Index loops: the generic IndexingIterator allocates in unoptimized builds.
        for index in 0..<attributes.count {
            size += 4 + ((attributes[index].valueByteCount + 3) & ~3)
        }
        if integrityKey != nil { size += 4 + SHA1.digestByteCount }
        if fingerprint { size += 8 }
        return size
    }

    /// Writes the message into `out` and returns its length (`marshalSize`).
    ///
    /// Throws `.bufferTooSmall` when `out` is shorter than `marshalSize`, `.badLength` when
    /// the message or one attribute value exceeds 65535 bytes, `.badValue` for an ERROR-CODE
    /// outside 300–699.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        guard size - STUNMessageView.headerByteCount <= Int(UInt16.max) else {
            throw WireError(.badLength, "STUN message length")
        }
        guard out.count >= size else { throw WireError(.bufferTooSmall, "STUN message") }
        out.setU16(type.rawValue, at: 0)
        out.setU32(STUNMessageView.magicCookie, at: 4)
        transactionID.write(to: out, at: 8)
        var offset = STUNMessageView.headerByteCount
        for index in 0..<attributes.count {
            let attribute = attributes[index]
            let length = attribute.valueByteCount
            guard length <= Int(UInt16.max) else { throw WireError(.badLength, "STUN attribute length") }
            out.setU16(attribute.type.rawValue, at: offset)
            out.setU16(UInt16(truncatingIfNeeded: length), at: offset + 2)
            try attribute.writeValue(to: out, at: offset + 4, transactionID: transactionID)
            offset += 4 + length
            while offset & 3 != 0 {
                out[offset] = paddingByte
                offset += 1
            }
        }
        if var mac = integrityKey {
            // §14.5: the length covers the message up to and including MESSAGE-INTEGRITY.
            let end = offset + 4 + SHA1.digestByteCount
            out.setU16(UInt16(truncatingIfNeeded: end - STUNMessageView.headerByteCount), at: 2)
            mac.update(UnsafeRawBufferPointer(rebasing: out[0..<offset]))
            out.setU16(STUNAttributeType.messageIntegrity.rawValue, at: offset)
            out.setU16(UInt16(SHA1.digestByteCount), at: offset + 2)
            mac.finalize().write(to: out, at: offset + 4)
            offset = end
        }
        if fingerprint {
            // §14.7: the length covers FINGERPRINT itself, which is last.
            out.setU16(UInt16(truncatingIfNeeded: offset + 8 - STUNMessageView.headerByteCount), at: 2)
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: out[0..<offset])) ^ STUNMessageView.fingerprintXOR
            out.setU16(STUNAttributeType.fingerprint.rawValue, at: offset)
            out.setU16(4, at: offset + 2)
            out.setU32(crc, at: offset + 4)
            offset += 8
        }
        out.setU16(UInt16(truncatingIfNeeded: offset - STUNMessageView.headerByteCount), at: 2)
        return offset
    }
}

extension STUNAttributeList {
    /// Appends to an empty list, which cannot fail.
    mutating func appendFirst(_ value: STUNAttributeValue) {
        do throws(WireError) { try append(value) } catch { preconditionFailure("empty list is full") }
    }
}
