/// A certificate fingerprint as SDP carries it (RFC 8122 §5): a hash function name and
/// the digest, written `sha-256 AB:CD:…`.
public struct CertificateFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The hash function, lower case (the relay produces and accepts "sha-256").
    public let algorithm: String
    /// The digest bytes.
    public let digest: [UInt8]

    /// Creates a fingerprint from a hash name and digest bytes.
    public init(algorithm: String, digest: [UInt8]) {
        self.algorithm = algorithm.lowercased()
        self.digest = digest
    }

    /// Parses the value of an `a=fingerprint:` attribute, e.g. `sha-256 4A:AD:…`.
    public init(sdpValue: String) throws(DTLSError) {
        let parts = sdpValue.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw DTLSError(.badFingerprint, "expected '<hash> <hex:hex:…>'") }
        var bytes: [UInt8] = []
        for pair in parts[1].split(separator: ":", omittingEmptySubsequences: false) {
            guard pair.count == 2, let b = UInt8(pair, radix: 16) else {
                throw DTLSError(.badFingerprint, "'\(pair)' is not a hex byte")
            }
            bytes.append(b)
        }
        guard !bytes.isEmpty else { throw DTLSError(.badFingerprint, "empty digest") }
        self.init(algorithm: String(parts[0]), digest: bytes)
    }

    /// The `a=fingerprint:` value: `sha-256 AB:CD:…` with upper-case hex.
    public var sdpValue: String {
        algorithm + " " + digest.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    public var description: String { sdpValue }
}
