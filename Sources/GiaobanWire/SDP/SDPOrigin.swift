/// The `o=` line (RFC 8866 §5.2): who created the session and which version this is.
public struct SDPOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The user's login, or `-` (JSEP, RFC 8829 §5.2.1).
    public var username: String
    /// A numeric string unique to the session; kept as text (it may exceed 64 bits).
    public var sessionID: String
    /// Incremented on every change of the description.
    public var sessionVersion: UInt64
    /// The network type, `IN`.
    public var networkType: String
    /// The address type, `IP4` or `IP6`.
    public var addressType: String
    /// The creator's address or domain name (JSEP uses `127.0.0.1` or `0.0.0.0`).
    public var address: String

    /// Creates an origin; the defaults are the JSEP ones.
    public init(
        username: String = "-", sessionID: String, sessionVersion: UInt64,
        networkType: String = "IN", addressType: String = "IP4", address: String = "127.0.0.1"
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    /// Parses the text after `o=`: six space-separated fields, the second and third numeric.
    public init(parsing value: Substring) throws(WireError) {
        let f = SDPText.fields(value)
        guard f.count == 6 else { throw SDPText.error }
        guard f[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw SDPText.error }
        username = String(f[0])
        sessionID = String(f[1])
        sessionVersion = try SDPText.number(f[2])
        networkType = try SDPText.token(f[3])
        addressType = try SDPText.token(f[4])
        address = String(f[5])
    }

    /// The text after `o=`.
    public var description: String {
        "\(username) \(sessionID) \(sessionVersion) \(networkType) \(addressType) \(address)"
    }
}
