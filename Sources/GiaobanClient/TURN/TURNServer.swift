public import GiaobanWire
import GiaobanTransport

/// A TURN server an endpoint relays its media through (RFC 8656 over UDP): its address and
/// the long-term credential, from a `turn:` URL (RFC 7065) and a username and password (for
/// Giaoban's relay, minted by `GET /api/ice-servers`).
public struct TURNServer: Sendable, Equatable {
    /// The server's UDP transport address.
    public var address: STUNAddress
    /// The credential.
    public var credential: STUNLongTermCredential

    /// A server at `address` with `credential`.
    public init(address: STUNAddress, credential: STUNLongTermCredential) {
        self.address = address
        self.credential = credential
    }

    /// The address of a `turn:host[:port][?transport=udp]` URL (RFC 7065 §3.1; port 3478 by
    /// default); nil when it is not one this client can use: `turns:`, `?transport=tcp`, or a
    /// host that is not an IPv4 literal.
    public static func address(url: String) -> STUNAddress? {
        guard url.hasPrefix("turn:") else { return nil }
        var rest = Substring(url.dropFirst("turn:".count))
        if let query = rest.firstIndex(of: "?") {
            let parameters = rest[rest.index(after: query)...].split(separator: "&")
            guard parameters.allSatisfy({ $0 == "transport=udp" }) else { return nil }
            rest = rest[..<query]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let port = parts.count == 2 ? UInt16(parts[1]) : 3478
        guard let port, port > 0 else { return nil }
        return UDPSocket.ipv4(String(parts[0]), port: port)
    }
}
