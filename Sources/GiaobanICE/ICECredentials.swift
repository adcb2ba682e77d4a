/// ICE username fragment and password (RFC 8445 §5.3, RFC 8839 §5.4): the short-term
/// credentials that authenticate connectivity checks.
public struct ICECredentials: Sendable, Hashable {
    /// `ice-ufrag`: at least 4 characters (24 bits of randomness).
    public let ufrag: String
    /// `ice-pwd`: at least 22 characters (128 bits of randomness).
    public let pwd: String

    /// Credentials with the given values.
    public init(ufrag: String, pwd: String) {
        self.ufrag = ufrag
        self.pwd = pwd
    }

    /// The ice-char alphabet (RFC 8839 §5.4): ALPHA / DIGIT / "+" / "/".
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// Fresh random credentials: an 8-character ufrag and a 24-character password
    /// (48 and 144 bits) from the system's secure generator.
    public static func random() -> ICECredentials {
        var rng = SystemRandomNumberGenerator()
        func text(_ n: Int) -> String { String((0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }) }
        return ICECredentials(ufrag: text(8), pwd: text(24))
    }

    /// True when the values satisfy RFC 8839's grammar and length limits.
    public var isValid: Bool {
        (4...256).contains(ufrag.count) && (22...256).contains(pwd.count)
            && (ufrag + pwd).allSatisfy { Self.alphabet.contains($0) }
    }
}
