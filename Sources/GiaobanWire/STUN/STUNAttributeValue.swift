/// An attribute to write into a STUN message (RFC 8489 §14, RFC 8445 §7.1): the encoders
/// behind `STUNMessageBuilder`.
///
/// Text values are `String`s and raw values `[UInt8]`s the caller keeps (e.g. per session);
/// holding and writing them does not allocate. MESSAGE-INTEGRITY and FINGERPRINT are not
/// values here: the builder computes and appends them last.
public enum STUNAttributeValue: Hashable, Sendable {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    case mappedAddress(STUNAddress)
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2); masked with the message's transaction ID.
    case xorMappedAddress(STUNAddress)
    /// USERNAME (RFC 8489 §14.3), fewer than 513 bytes of UTF-8.
    case username(String)
    /// ERROR-CODE (RFC 8489 §14.8).
    case errorCode(STUNErrorCode)
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    case unknownAttributes([STUNAttributeType])
    /// REALM (RFC 8489 §14.9).
    case realm(String)
    /// NONCE (RFC 8489 §14.10).
    case nonce(String)
    /// SOFTWARE (RFC 8489 §14.14).
    case software(String)
    /// PRIORITY (RFC 8445 §7.1.1).
    case priority(UInt32)
    /// USE-CANDIDATE (RFC 8445 §7.1.2), no value.
    case useCandidate
    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 §7.1.3).
    case iceControlled(UInt64)
    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 §7.1.3).
    case iceControlling(UInt64)
    /// Any other attribute, value bytes as given (no padding).
    case raw(STUNAttributeType, [UInt8])

    /// The attribute type written.
    public var type: STUNAttributeType {
        switch self {
        case .mappedAddress: .mappedAddress
        case .xorMappedAddress: .xorMappedAddress
        case .username: .username
        case .errorCode: .errorCode
        case .unknownAttributes: .unknownAttributes
        case .realm: .realm
        case .nonce: .nonce
        case .software: .software
        case .priority: .priority
        case .useCandidate: .useCandidate
        case .iceControlled: .iceControlled
        case .iceControlling: .iceControlling
        case .raw(let type, _): type
        }
    }

    /// The value length before padding.
    public var valueByteCount: Int {
        switch self {
        case .mappedAddress(let address), .xorMappedAddress(let address): address.valueByteCount
        case .username(let text), .realm(let text), .nonce(let text), .software(let text): text.utf8.count
        case .errorCode(let error): 4 + error.reason.utf8.count
        case .unknownAttributes(let types): 2 * types.count
        case .priority: 4
        case .useCandidate: 0
        case .iceControlled, .iceControlling: 8
        case .raw(_, let bytes): bytes.count
        }
    }

    /// Writes the value (`valueByteCount` bytes, no padding) at `offset`; the caller has
    /// checked that it fits. Throws `.badValue` for an ERROR-CODE outside 300–699.
    public func writeValue(to out: UnsafeMutableRawBufferPointer, at offset: Int,
                           transactionID: STUNTransactionID) throws(WireError) {
        switch self {
        case .mappedAddress(let address):
            address.writeValue(to: out, at: offset, xor: nil)
        case .xorMappedAddress(let address):
            address.writeValue(to: out, at: offset, xor: transactionID)
        case .username(let text), .realm(let text), .nonce(let text), .software(let text):
            Self.write(text, to: out, at: offset)
        case .errorCode(let error):
            guard error.code >= 300, error.code <= 699 else { throw WireError(.badValue, "STUN ERROR-CODE") }
            out.setU16(0, at: offset)
            out.setU8(UInt8(truncatingIfNeeded: error.code / 100), at: offset + 2)
            out.setU8(UInt8(truncatingIfNeeded: error.code % 100), at: offset + 3)
            Self.write(error.reason, to: out, at: offset + 4)
        case .unknownAttributes(let types):
            var at = offset
            for type in types {
                out.setU16(type.rawValue, at: at)
                at += 2
            }
        case .priority(let value):
            out.setU32(value, at: offset)
        case .useCandidate:
            break
        case .iceControlled(let value), .iceControlling(let value):
            out.setU64(value, at: offset)
        case .raw(_, let bytes):
            var at = offset
            for byte in bytes {
                out[at] = byte
                at += 1
            }
        }
    }

    /// Copies the UTF-8 bytes of `text` without allocating.
    static func write(_ text: String, to out: UnsafeMutableRawBufferPointer, at offset: Int) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard let base = utf8.baseAddress, !utf8.isEmpty else { return }
            out.baseAddress.unsafelyUnwrapped.advanced(by: offset).copyMemory(from: base, byteCount: utf8.count)
        }
        guard copied == nil else { return }
        var at = offset
        for byte in text.utf8 {
            out[at] = byte
            at += 1
        }
    }
}

/// An ERROR-CODE to send (RFC 8489 §14.8): code 300–699 and a reason phrase.
///
/// The constants use string literals, so building an error response from them does not
/// allocate.
public struct STUNErrorCode: Hashable, Sendable {
    /// The code, 300–699.
    public var code: UInt16
    /// A short UTF-8 reason phrase (fewer than 128 characters).
    public var reason: String

    /// Creates an error code.
    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// 300 Try Alternate (RFC 8489 §14.8).
    public static let tryAlternate = STUNErrorCode(code: 300, reason: "Try Alternate")
    /// 400 Bad Request: malformed request (RFC 8489 §14.8).
    public static let badRequest = STUNErrorCode(code: 400, reason: "Bad Request")
    /// 401 Unauthorized: missing or wrong credentials (RFC 8489 §14.8).
    public static let unauthorized = STUNErrorCode(code: 401, reason: "Unauthorized")
    /// 420 Unknown Attribute: a comprehension-required attribute was not understood.
    public static let unknownAttribute = STUNErrorCode(code: 420, reason: "Unknown Attribute")
    /// 438 Stale Nonce (RFC 8489 §14.8).
    public static let staleNonce = STUNErrorCode(code: 438, reason: "Stale Nonce")
    /// 487 Role Conflict (RFC 8445 §7.3.1.1).
    public static let roleConflict = STUNErrorCode(code: 487, reason: "Role Conflict")
    /// 500 Server Error (RFC 8489 §14.8).
    public static let serverError = STUNErrorCode(code: 500, reason: "Server Error")
}
