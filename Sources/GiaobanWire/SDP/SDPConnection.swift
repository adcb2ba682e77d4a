/// The `c=` line (RFC 8866 §5.7): network type, address type and connection address.
public struct SDPConnection: Sendable, Hashable, CustomStringConvertible {
    /// The network type, `IN`.
    public var networkType: String
    /// The address type, `IP4` or `IP6`.
    public var addressType: String
    /// The address, with `/ttl` and `/count` suffixes for multicast kept as written.
    public var address: String

    /// Creates a connection line; JSEP's placeholder is `IN IP4 0.0.0.0`.
    public init(networkType: String = "IN", addressType: String = "IP4", address: String = "0.0.0.0") {
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    /// Parses the text after `c=`: exactly three space-separated fields.
    public init(parsing value: Substring) throws(WireError) {
        let f = SDPText.fields(value)
        guard f.count == 3 else { throw SDPText.error }
        networkType = try SDPText.token(f[0])
        addressType = try SDPText.token(f[1])
        address = String(f[2])
    }

    /// The text after `c=`.
    public var description: String { "\(networkType) \(addressType) \(address)" }
}
