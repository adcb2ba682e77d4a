import Foundation
internal import COpenSSL

/// Passwords stored as scrypt (RFC 7914) hashes through OpenSSL 3's `EVP_PBE_scrypt`, encoded
/// as `scrypt$N$r$p$salt_b64$hash_b64` (standard base64 with padding) so that the parameters
/// travel with each hash and can be raised later without breaking stored ones.
public struct PasswordHash: Sendable, Equatable {
    /// The CPU/memory cost N (a power of two above 1).
    public let n: UInt64
    /// The block size r.
    public let r: UInt64
    /// The parallelization p.
    public let p: UInt64
    /// The per-password random salt.
    public let salt: [UInt8]
    /// The derived key.
    public let key: [UInt8]

    /// The parameters new hashes use: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s a hash).
    public static let defaultN: UInt64 = 1 << 15
    /// Salt length of new hashes, bytes.
    public static let saltLength = 16
    /// Key length of new hashes, bytes.
    public static let keyLength = 32
    /// The largest N, r and p `parse` accepts: a stored hash must not make a check take forever.
    static let maxN: UInt64 = 1 << 20, maxR: UInt64 = 32, maxP: UInt64 = 16

    /// A hash of `password` with a fresh random salt and the default parameters.
    public static func make(password: String) throws(PasswordHashError) -> PasswordHash {
        let salt = SecureRandom.bytes(saltLength)
        let key = try derive(password: Array(password.utf8), salt: salt, n: defaultN, r: 8, p: 1, length: keyLength)
        return PasswordHash(n: defaultN, r: 8, p: 1, salt: salt, key: key)
    }

    /// A hash from its parts.
    public init(n: UInt64, r: UInt64, p: UInt64, salt: [UInt8], key: [UInt8]) {
        self.n = n
        self.r = r
        self.p = p
        self.salt = salt
        self.key = key
    }

    /// Parses `scrypt$N$r$p$salt_b64$hash_b64`; throws `.malformed` for anything else, or for
    /// parameters out of bounds.
    public init(encoded: String) throws(PasswordHashError) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt",
              let n = UInt64(parts[1]), let r = UInt64(parts[2]), let p = UInt64(parts[3]),
              n > 1, n & (n - 1) == 0, n <= Self.maxN, (1...Self.maxR).contains(r), (1...Self.maxP).contains(p),
              let salt = Data(base64Encoded: String(parts[4])), let key = Data(base64Encoded: String(parts[5])),
              !salt.isEmpty, (16...64).contains(key.count) else {
            throw PasswordHashError(.malformed)
        }
        self.init(n: n, r: r, p: p, salt: Array(salt), key: Array(key))
    }

    /// The stored form, `scrypt$N$r$p$salt_b64$hash_b64`.
    public var encoded: String {
        "scrypt$\(n)$\(r)$\(p)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` gives this hash, compared in constant time (`CRYPTO_memcmp`).
    public func matches(_ password: String) throws(PasswordHashError) -> Bool {
        let candidate = try Self.derive(password: Array(password.utf8), salt: salt, n: n, r: r, p: p, length: key.count)
        return candidate.withUnsafeBytes { a in key.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, key.count) == 0 } }
    }

    /// Whether `password` matches the stored `encoded` hash; false for a malformed hash.
    public static func verify(_ password: String, encoded: String) -> Bool {
        guard let hash = try? PasswordHash(encoded: encoded) else { return false }
        return (try? hash.matches(password)) ?? false
    }

    /// scrypt (RFC 7914 §6) of `password` and `salt`, `length` bytes.
    public static func derive(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64,
                              length: Int) throws(PasswordHashError) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: length)
        // 128·r·(N + p + 2) bytes and some room; OpenSSL's default limit (32 MiB) is below N = 2^15, r = 8.
        let memory = 128 * r * (n + p + 2) + (1 << 20)
        // Dummy bytes keep the pointers non-nil for an empty password or salt.
        let pw = password.isEmpty ? [0] : password, s = salt.isEmpty ? [0] : salt
        let ok = pw.withUnsafeBufferPointer { pwp in
            s.withUnsafeBufferPointer { sp in
                key.withUnsafeMutableBufferPointer { out in
                    pwp.withMemoryRebound(to: CChar.self) { pwc in
                        EVP_PBE_scrypt(pwc.baseAddress, password.count, sp.baseAddress, salt.count, n, r, p, memory,
                                       out.baseAddress, length)
                    }
                }
            }
        }
        guard ok == 1 else { throw PasswordHashError(.derivation) }
        return key
    }
}

/// Why a password hash could not be made or read.
public struct PasswordHashError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// The stored form is not `scrypt$N$r$p$salt$hash` with parameters in bounds.
        case malformed
        /// OpenSSL refused the parameters or ran out of memory.
        case derivation
    }

    /// What went wrong.
    public let reason: Reason
    /// An error for `reason`.
    public init(_ reason: Reason) { self.reason = reason }

    public var description: String {
        switch reason {
        case .malformed: "malformed password hash (scrypt$N$r$p$salt$hash expected)"
        case .derivation: "scrypt failed (parameters or memory)"
        }
    }
}
