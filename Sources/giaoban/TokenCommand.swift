import ArgumentParser
import Foundation
import GiaobanServer

/// `giaoban token`: mints a signed token for a commune, camera or officer.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a signed access token (JWT, HS256) and print it.",
        discussion: "The secret comes from --secret-file, else auth.secret_file of the configuration (created if missing)."
    )

    @Option(help: "Who the token is for: a commune id, camera id or officer.")
    var subject: String

    @Option(help: "One of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).")
    var role: String

    @Option(help: "Lifetime in seconds.")
    var ttl: Int64 = 86_400

    @Option(help: "The HS256 secret file (overrides the configuration).")
    var secretFile: String?

    @Option(name: .shortAndLong, help: "Configuration file.")
    var config: String?

    func validate() throws {
        guard Role(rawValue: role) != nil else {
            throw ValidationError("unknown role '\(role)'; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !subject.isEmpty, subject.count <= 128 else { throw ValidationError("the subject must be 1–128 characters") }
        guard ttl > 0 else { throw ValidationError("--ttl must be a positive number of seconds") }
    }

    func run() throws {
        let path: String
        if let secretFile {
            path = secretFile
        } else {
            let env = ProcessInfo.processInfo.environment
            let file = config ?? env["GIAOBAN_CONFIG"] ?? (fileExists("conf/giaoban.toml") ? "conf/giaoban.toml" : nil)
            path = try GiaobanConfig.load(path: file, environment: env).auth.secretFile
        }
        let (secret, _) = try TokenAuthority.loadOrCreateSecret(at: path)
        let now = Int64(Date().timeIntervalSince1970)
        let claims = TokenClaims(sub: subject, role: Role(rawValue: role)!, exp: now + ttl, iat: now)
        print(TokenAuthority(secret: secret).issue(claims))
    }
}
