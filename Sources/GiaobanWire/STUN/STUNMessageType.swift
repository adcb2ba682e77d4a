/// A STUN method: 12 bits (RFC 8489 §5, IANA "STUN Methods"; Binding is 0x001).
public struct STUNMethod: RawRepresentable, Hashable, Sendable {
    /// The method number; only the low 12 bits are used.
    public let rawValue: UInt16

    /// Creates a method from its number (masked to 12 bits).
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    /// Binding (RFC 8489 §18.2): ICE connectivity checks and consent (RFC 7675).
    public static let binding = STUNMethod(rawValue: 0x001)
}

/// The class of a STUN message, encoded in bits C1 C0 of the message type (RFC 8489 §5).
public enum STUNClass: UInt8, Sendable, CaseIterable {
    /// 0b00: a request.
    case request = 0
    /// 0b01: an indication.
    case indication = 1
    /// 0b10: a success response.
    case successResponse = 2
    /// 0b11: an error response.
    case errorResponse = 3
}

/// The 14-bit STUN message type: method and class bits interleaved (RFC 8489 §5, Figure 3).
///
/// ```
///  0                 1
///  2  3  4 5 6 7 8 9 0 1 2 3 4 5
/// +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
/// |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
/// |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
/// +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct STUNMessageType: Hashable, Sendable {
    /// The method (12 bits).
    public var method: STUNMethod
    /// The class (2 bits).
    public var messageClass: STUNClass

    /// Creates a type from method and class.
    @inlinable
    public init(method: STUNMethod, messageClass: STUNClass) {
        self.method = method
        self.messageClass = messageClass
    }

    /// Decodes the 16-bit type field; the two leading zero bits are ignored.
    @inlinable
    public init(rawValue: UInt16) {
        let m = (rawValue & 0x000F) | ((rawValue & 0x00E0) >> 1) | ((rawValue & 0x3E00) >> 2)
        let c = ((rawValue >> 4) & 1) | ((rawValue >> 7) & 2)
        method = STUNMethod(rawValue: m)
        messageClass = STUNClass(rawValue: UInt8(truncatingIfNeeded: c)) ?? .request
    }

    /// The 16-bit type field as sent on the wire (two leading zero bits).
    @inlinable
    public var rawValue: UInt16 {
        let m = method.rawValue
        let c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }

    /// Binding request, 0x0001.
    public static let bindingRequest = STUNMessageType(method: .binding, messageClass: .request)
    /// Binding indication, 0x0011.
    public static let bindingIndication = STUNMessageType(method: .binding, messageClass: .indication)
    /// Binding success response, 0x0101.
    public static let bindingSuccess = STUNMessageType(method: .binding, messageClass: .successResponse)
    /// Binding error response, 0x0111.
    public static let bindingError = STUNMessageType(method: .binding, messageClass: .errorResponse)
}

/// The 96-bit STUN transaction ID (RFC 8489 §5), held in two integers.
public struct STUNTransactionID: Hashable, Sendable {
    /// The first 4 bytes, big-endian.
    public var high: UInt32
    /// The last 8 bytes, big-endian.
    public var low: UInt64

    /// Creates an ID from its first 4 and last 8 bytes.
    @inlinable
    public init(high: UInt32, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads 12 bytes at `offset`; the caller has checked that they are present.
    @inlinable
    public init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        high = bytes.u32(at: offset)
        low = bytes.u64(at: offset + 4)
    }

    /// A fresh ID drawn from `generator` (RFC 8489 §6: uniformly random).
    @inlinable
    public init<G: RandomNumberGenerator>(using generator: inout G) {
        high = generator.next()
        low = generator.next()
    }

    /// A fresh ID from the system's cryptographically secure generator.
    @inlinable
    public static func random() -> STUNTransactionID {
        var generator = SystemRandomNumberGenerator()
        return STUNTransactionID(using: &generator)
    }

    /// Writes the 12 bytes at `offset`; the caller has checked that they fit.
    @inlinable
    public func write(to out: UnsafeMutableRawBufferPointer, at offset: Int) {
        out.setU32(high, at: offset)
        out.setU64(low, at: offset + 4)
    }
}
