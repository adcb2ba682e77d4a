/// `a=candidate:` (RFC 8839 §5.1): one ICE candidate,
/// `<foundation> <component> <transport> <priority> <address> <port> typ <type>
/// [raddr <address>] [rport <port>] *(<extension name> <extension value>)`, e.g.
/// `a=candidate:1480897568 1 udp 2122194687 192.0.2.2 45980 typ host generation 0 network-id 1`.
///
/// Extensions (`generation`, `ufrag`, `network-id`, `network-cost`, `tcptype`, …) are kept
/// in order. The same text, with or without the `candidate:` prefix, is what trickle ICE
/// carries (RFC 8840), so `init(parsing:)` accepts both.
public struct SDPCandidate: SDPTypedAttribute, Hashable {
    /// The attribute name, `candidate`.
    public static let attributeName = "candidate"

    /// A candidate type (RFC 8445 §5.1.1.1); other tokens are kept as written.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        /// The `typ` token.
        public var rawValue: String
        /// Creates a type from its token.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A host candidate: an address of the endpoint's own interface.
        public static let host = Kind(rawValue: "host")
        /// A server-reflexive candidate, learned from a STUN server.
        public static let srflx = Kind(rawValue: "srflx")
        /// A peer-reflexive candidate, learned from a connectivity check.
        public static let prflx = Kind(rawValue: "prflx")
        /// A relayed candidate, allocated on a TURN server.
        public static let relay = Kind(rawValue: "relay")
    }

    /// Groups candidates of the same type, base and server: 1–32 ice-chars.
    public var foundation: String
    /// The component: 1 for RTP (and RTCP when multiplexed), 2 for separate RTCP.
    public var component: UInt16
    /// The transport as written: `udp`, `UDP`, `tcp`… (compare case-insensitively).
    public var transport: String
    /// The candidate priority (RFC 8445 §5.1.2).
    public var priority: UInt32
    /// The IP address or FQDN (e.g. an mDNS `.local` name).
    public var address: String
    /// The transport port.
    public var port: UInt16
    /// The candidate type.
    public var kind: Kind
    /// The `raddr` related address, for reflexive and relayed candidates.
    public var relatedAddress: String?
    /// The `rport` related port.
    public var relatedPort: UInt16?
    /// The extension name/value pairs in order.
    public var extensions: [SDPParameter]

    /// Creates a candidate.
    public init(
        foundation: String, component: UInt16 = 1, transport: String = "udp", priority: UInt32,
        address: String, port: UInt16, kind: Kind = .host, relatedAddress: String? = nil,
        relatedPort: UInt16? = nil, extensions: [SDPParameter] = []
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.kind = kind
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.extensions = extensions
    }

    /// Parses a candidate line as found after `a=candidate:`.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard f.count >= 8, f.count % 2 == 0, f[6] == "typ" else { throw SDPText.error }
        guard f[0].utf8.count <= 32, f[0].utf8.allSatisfy(SDPCandidate.isICEChar) else { throw SDPText.error }
        foundation = String(f[0])
        component = try SDPText.number(f[1])
        guard component >= 1, component <= 256 else { throw SDPText.error }
        transport = try SDPText.token(f[2])
        priority = try SDPText.number(f[3])
        address = String(f[4])
        port = try SDPText.number(f[5])
        kind = Kind(rawValue: try SDPText.token(f[7]))
        relatedAddress = nil
        relatedPort = nil
        extensions = []
        for i in stride(from: 8, to: f.count, by: 2) {
            let name = f[i]
            let value = f[i + 1]
            if name == "raddr", relatedAddress == nil, extensions.isEmpty {
                relatedAddress = String(value)
            } else if name == "rport", relatedPort == nil, extensions.isEmpty {
                relatedPort = try SDPText.number(value)
            } else {
                extensions.append(SDPParameter(try SDPText.token(name), String(value)))
            }
        }
    }

    /// Parses trickle text: the candidate attribute value with or without `candidate:` before it.
    public init(parsing text: String) throws(WireError) {
        let t = SDPText.trimmed(text[...])
        if t.utf8.starts(with: "candidate:".utf8) {
            try self.init(attributeValue: String(t[t.utf8.index(t.startIndex, offsetBy: 10)...]))
        } else {
            try self.init(attributeValue: String(t))
        }
    }

    /// The attribute value, written in RFC 8839 order.
    public var attributeValue: String? {
        var text = "\(foundation) \(component) \(transport) \(priority) \(address) \(port) typ \(kind.rawValue)"
        if let relatedAddress { text += " raddr " + relatedAddress }
        if let relatedPort { text += " rport " + String(relatedPort) }
        for e in extensions { text += " " + e.name + " " + (e.value ?? "") }
        return text
    }

    /// The value of extension `name`, e.g. `ufrag`, `tcptype`.
    public func extensionValue(_ name: String) -> String? {
        extensions.first { $0.name == name }?.value
    }

    /// The `generation` extension (Chromium): which ICE restart produced the candidate.
    public var generation: UInt32? { extensionValue("generation").flatMap { try? SDPText.number($0[...]) } }

    /// The `network-cost` extension (Chromium): a relative cost of the interface.
    public var networkCost: UInt32? { extensionValue("network-cost").flatMap { try? SDPText.number($0[...]) } }

    /// True for a UDP candidate.
    public var isUDP: Bool { transport.lowercased() == "udp" }

    /// RFC 8445 `ice-char`: letters, digits, `+` and `/`.
    static func isICEChar(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2B || b == 0x2F
    }
}
