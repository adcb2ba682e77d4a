internal import COpenSSL

/// The one error type of the DTLS/OpenSSL wrapper, carrying OpenSSL's error queue text.
public struct DTLSError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public enum Reason: String, Sendable {
        /// A key or certificate could not be generated.
        case keyGeneration
        /// A PEM file could not be read or does not hold what it should.
        case badPEM
        /// The certificate and private key do not belong together.
        case keyMismatch
        /// A fingerprint string is not `sha-256 XX:XX:…`.
        case badFingerprint
        /// An OpenSSL call failed.
        case openssl
    }

    /// What failed.
    public let reason: Reason
    /// A short description plus OpenSSL's queued errors, if any.
    public let message: String

    init(_ reason: Reason, _ what: String) {
        self.reason = reason
        self.message = what + Self.drainQueue()
    }

    /// Empties OpenSSL's thread-local error queue into a string (" — err1; err2").
    static func drainQueue() -> String {
        var parts: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            parts.append(String(cString: buf))
        }
        return parts.isEmpty ? "" : " — " + parts.joined(separator: "; ")
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}
