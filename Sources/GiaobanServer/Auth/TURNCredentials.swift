import Foundation
import GiaobanCrypto

/// Short-lived TURN credentials in the TURN REST API form (draft-uberti-behave-turn-rest-00
/// §2.2), which coturn checks with `use-auth-secret` / `static-auth-secret`: the username is
/// "<expiry, Unix seconds>:<subject>" and the password base64(HMAC-SHA1(secret, username)).
/// The TURN server needs no account per user, only the shared secret and a clock.
public struct TURNCredentials: Sendable {
    /// The shared secret (the trimmed content of `media.turn_secret_file`).
    let secret: [UInt8]
    /// Seconds a minted credential stays valid (`media.turn_credential_ttl_s`).
    public let ttlSeconds: Int

    /// A minter for `secret` whose credentials last `ttlSeconds`.
    public init(secret: [UInt8], ttlSeconds: Int) {
        self.secret = secret
        self.ttlSeconds = ttlSeconds
    }

    /// The username and password for `subject` at `now` (Unix seconds); valid until `now + ttlSeconds`.
    public func mint(subject: String, now: Int64) -> (username: String, credential: String) {
        let username = "\(now + Int64(ttlSeconds)):\(subject)"
        let code = HMACSHA1Code.authenticationCode(key: secret, message: Array(username.utf8))
        return (username, Data(code).base64EncodedString())
    }

    /// Reads the shared secret of `media.turn_secret_file`: its trimmed content, at least 16
    /// characters. Unlike `auth.secret_file` it is never created: the TURN server must hold the
    /// same secret. The error names the key and the file, never the content.
    public static func loadSecret(_ path: String) throws(ConfigError) -> [UInt8] {
        let text: String
        do { text = try readTextFile(path) } catch {
            throw ConfigError("media.turn_secret_file: cannot read \(path): \(error.reason)")
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard secret.utf8.count >= 16 else {
            throw ConfigError("media.turn_secret_file: the secret in \(path) is shorter than 16 characters")
        }
        return Array(secret.utf8)
    }

    /// The minter `media` asks for: nil when no TURN URL is configured; an error when its secret is unusable.
    public static func configured(_ media: GiaobanConfig.Media) throws(ConfigError) -> TURNCredentials? {
        guard media.iceServers.contains(where: \.needsCredentials) else { return nil }
        return TURNCredentials(secret: try loadSecret(media.turnSecretFile), ttlSeconds: media.turnCredentialTTLSeconds)
    }
}
