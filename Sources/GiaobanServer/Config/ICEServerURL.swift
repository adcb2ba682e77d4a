/// One STUN or TURN server URL of `media.ice_servers`: `stun:host[:port]` (RFC 7064 §3.1) or
/// `turn:`/`turns:host[:port][?transport=udp|tcp]` (RFC 7065 §3.1), handed to clients as is.
public struct ICEServerURL: Sendable, Equatable, CustomStringConvertible {
    /// The URL scheme.
    public enum Scheme: String, Sendable {
        /// A STUN server (no credentials).
        case stun
        /// A TURN server over UDP or TCP.
        case turn
        /// A TURN server over TLS (or DTLS).
        case turns
    }

    /// The `transport` query parameter of a TURN URL.
    public enum Transport: String, Sendable {
        /// TURN over UDP.
        case udp
        /// TURN over TCP (or TLS for `turns`).
        case tcp
    }

    /// The scheme.
    public let scheme: Scheme
    /// The host name or address (an IPv6 address keeps its brackets).
    public let host: String
    /// The port, when the URL names one (else the scheme's default, 3478 or 5349).
    public let port: Int?
    /// The transport of a TURN URL, when the URL names one.
    public let transport: Transport?

    /// The URL as configured and as clients receive it.
    public var description: String {
        var text = "\(scheme.rawValue):\(host)"
        if let port { text += ":\(port)" }
        if let transport { text += "?transport=\(transport.rawValue)" }
        return text
    }

    /// Whether clients need credentials for it (TURN), i.e. whether `/api/ice-servers` mints some.
    public var needsCredentials: Bool { scheme != .stun }

    /// Parses and validates a URL; the error says what is wrong, without the key (the caller adds it).
    public init(parsing text: String) throws(ConfigError) {
        guard let colon = text.firstIndex(of: ":"), let scheme = Scheme(rawValue: String(text[..<colon]).lowercased()) else {
            throw ConfigError("the scheme must be stun:, turn: or turns:")
        }
        var rest = Substring(text[text.index(after: colon)...])
        var transport: Transport?
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            rest = rest[..<question]
            guard scheme != .stun else { throw ConfigError("a stun: URL takes no query") }
            guard query.hasPrefix("transport="), let t = Transport(rawValue: String(query.dropFirst("transport=".count)).lowercased()) else {
                throw ConfigError("the only query is ?transport=udp or ?transport=tcp")
            }
            transport = t
        }
        var host = rest, portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw ConfigError("an IPv6 host needs its closing ]") }
            host = rest[...close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ConfigError("expected :port after the IPv6 host") }
                portText = after.dropFirst()
            }
            let inside = host.dropFirst().dropLast()
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw ConfigError("'\(host)' is not an IPv6 address")
            }
        } else {
            if let portColon = rest.lastIndex(of: ":") {
                host = rest[..<portColon]
                portText = rest[rest.index(after: portColon)...]
            }
            guard !host.isEmpty else { throw ConfigError("the host is missing") }
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else {
                throw ConfigError("'\(host)' is not a host name or IPv4 address")
            }
        }
        var port: Int?
        if let portText {
            guard let p = Int(portText), (1...65_535).contains(p), portText.allSatisfy(\.isNumber) else {
                throw ConfigError("the port '\(portText)' is not in 1…65535")
            }
            port = p
        }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
        self.transport = transport
    }
}

extension GiaobanConfig {
    /// Reads `media.ice_servers`, `media.turn_secret_file` and `media.turn_credential_ttl_s`.
    mutating func readICEServers(_ reader: inout Reader, source: String) throws(ConfigError) {
        let texts = try reader.strings("media.ice_servers", default: [])
        var urls: [ICEServerURL] = []
        for (index, text) in texts.enumerated() {
            do { urls.append(try ICEServerURL(parsing: text)) } catch {
                throw ConfigError("\(reader.location("media.ice_servers")): media.ice_servers[\(index)] \"\(text)\": \(error.message)"
                                  + " (e.g. \"turn:turn.example.org:3478?transport=udp\")")
            }
        }
        media.iceServers = urls
        media.turnSecretFile = try reader.string("media.turn_secret_file", default: media.turnSecretFile)
        media.turnCredentialTTLSeconds = try reader.integer("media.turn_credential_ttl_s",
                                                            default: media.turnCredentialTTLSeconds, in: 60...86_400)
        if urls.contains(where: \.needsCredentials), media.turnSecretFile.isEmpty {
            throw ConfigError("\(source): media.ice_servers names a TURN server, so media.turn_secret_file must name the shared "
                              + "secret file (coturn's static-auth-secret)")
        }
    }
}

extension GiaobanConfig.Reader {
    /// An array of strings; a single string is taken as a one-element array.
    mutating func strings(_ key: String, default value: [String]) throws(ConfigError) -> [String] {
        used.insert(key)
        guard let v = file.values[key] else { return value }
        switch v {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw mismatch(key, "an array of strings in quotes", v) }
                out.append(s)
            }
            return out
        default: throw mismatch(key, "an array of strings in quotes", v)
        }
    }
}
