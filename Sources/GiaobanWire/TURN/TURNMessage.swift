// TURN's STUN methods and attributes (RFC 8656 §17, §18) and the long-term credential key
// (RFC 8489 §9.2.2), beside the Binding method and the ICE attributes of ../STUN.

extension STUNMethod {
    /// Allocate (RFC 8656 §7): reserve a relayed transport address on the TURN server.
    public static let allocate = STUNMethod(rawValue: 0x003)
    /// Refresh (RFC 8656 §8): extend (or, with LIFETIME 0, end) the allocation.
    public static let refresh = STUNMethod(rawValue: 0x004)
    /// Send indication (RFC 8656 §11.1): data to a peer without a channel.
    public static let send = STUNMethod(rawValue: 0x006)
    /// Data indication (RFC 8656 §11.4): data from a peer without a channel.
    public static let data = STUNMethod(rawValue: 0x007)
    /// CreatePermission (RFC 8656 §10): let a peer's IP address send to the relayed address.
    public static let createPermission = STUNMethod(rawValue: 0x008)
    /// ChannelBind (RFC 8656 §12.1): bind a channel number to a peer's transport address.
    public static let channelBind = STUNMethod(rawValue: 0x009)
}

extension STUNAttributeType {
    /// CHANNEL-NUMBER (RFC 8656 §18.1): the channel in the high 16 bits, then RFFU zeros.
    public static let channelNumber = STUNAttributeType(rawValue: 0x000C)
    /// LIFETIME (RFC 8656 §18.2): seconds the allocation lives without a Refresh.
    public static let lifetime = STUNAttributeType(rawValue: 0x000D)
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3): the peer, encoded like XOR-MAPPED-ADDRESS.
    public static let xorPeerAddress = STUNAttributeType(rawValue: 0x0012)
    /// DATA (RFC 8656 §18.4): application data in a Send or Data indication.
    public static let data = STUNAttributeType(rawValue: 0x0013)
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5): the relayed transport address allocated.
    public static let xorRelayedAddress = STUNAttributeType(rawValue: 0x0016)
    /// REQUESTED-TRANSPORT (RFC 8656 §18.7): the protocol number (17, UDP) then RFFU zeros.
    public static let requestedTransport = STUNAttributeType(rawValue: 0x0019)
}

extension STUNMessageType {
    /// The request of `method`.
    public static func request(_ method: STUNMethod) -> STUNMessageType {
        STUNMessageType(method: method, messageClass: .request)
    }
}

extension STUNAttributeValue {
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3) of `address` for the message `transactionID`.
    public static func xorPeerAddress(_ address: STUNAddress, transactionID: STUNTransactionID) -> STUNAttributeValue {
        .raw(.xorPeerAddress, xored(address, transactionID: transactionID))
    }

    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    public static func channelNumber(_ channel: UInt16) -> STUNAttributeValue {
        .raw(.channelNumber, [UInt8(channel >> 8), UInt8(channel & 0xFF), 0, 0])
    }

    /// LIFETIME (RFC 8656 §18.2) in seconds.
    public static func lifetime(_ seconds: UInt32) -> STUNAttributeValue {
        .raw(.lifetime, [UInt8(seconds >> 24), UInt8((seconds >> 16) & 0xFF), UInt8((seconds >> 8) & 0xFF), UInt8(seconds & 0xFF)])
    }

    /// REQUESTED-TRANSPORT UDP (protocol 17, RFC 8656 §18.7).
    public static let requestedTransportUDP = STUNAttributeValue.raw(.requestedTransport, [17, 0, 0, 0])

    private static func xored(_ address: STUNAddress, transactionID: STUNTransactionID) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: address.valueByteCount)
        bytes.withUnsafeMutableBytes { address.writeValue(to: $0, at: 0, xor: transactionID) }
        return bytes
    }
}

/// The long-term credential of a TURN server (RFC 8489 §9.2): username, realm and password.
public struct STUNLongTermCredential: Sendable, Equatable {
    /// The username (for TURN REST credentials, `expiry:subject`).
    public var username: String
    /// The password.
    public var password: String

    /// A credential for a server that has not named its realm yet.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// The MESSAGE-INTEGRITY key for `realm` (RFC 8489 §9.2.2): MD5(username ":" realm ":"
    /// password), the strings taken as given (ASCII credentials need no SASLprep / OpaqueString).
    public func key(realm: String) -> [UInt8] {
        MD5.hash(Array("\(username):\(realm):\(password)".utf8))
    }

    /// The keyed HMAC for `realm`.
    public func integrityKey(realm: String) -> HMACSHA1 {
        key(realm: realm).withUnsafeBytes { HMACSHA1(key: $0) }
    }
}
