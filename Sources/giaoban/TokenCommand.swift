import ArgumentParser
import Foundation
import GiaobanServer
import GiaobanAuth

/// `giaoban token`: mints a signed token for a commune, camera or officer.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a signed access token (JWT, HS256) and print it.",
        discussion: "The secret comes from --secret-file, else auth.secret_file of the configuration (created if missing). "
            + "With a configuration file, the issue is recorded in its database's audit trail (docs/audit.md)."
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
        let env = ProcessInfo.processInfo.environment
        let file = config ?? env["GIAOBAN_CONFIG"] ?? (fileExists("conf/giaoban.toml") ? "conf/giaoban.toml" : nil)
        let settings: GiaobanConfig
        if secretFile != nil, config == nil {
            // The secret is given: the configuration only bounds the lifetime (defaults if unreadable).
            settings = (try? GiaobanConfig.load(path: file, environment: env)) ?? GiaobanConfig()
        } else {
            settings = try GiaobanConfig.load(path: file, environment: env)
        }
        let maxLifetime = Int64(settings.security.maxTokenLifetimeS)
        guard ttl <= maxLifetime else {
            throw ValidationError("--ttl \(ttl) is longer than the maximum token lifetime, \(maxLifetime) s "
                + "(security.max_token_lifetime_s): the server would refuse the token")
        }
        let (secret, _) = try TokenAuthority.loadOrCreateSecret(at: secretFile ?? settings.auth.secretFile)
        let now = Int64(Date().timeIntervalSince1970)
        let (exp, overflow) = now.addingReportingOverflow(ttl)
        guard !overflow else { throw ValidationError("--ttl \(ttl) is too large") }
        let claims = TokenClaims(sub: subject, role: Role(rawValue: role)!, exp: exp, iat: now)
        print(TokenAuthority(secret: secret, maxLifetime: maxLifetime).issue(claims))
        // Recorded in the configured database's audit trail when the token is signed with the
        // configured secret; a script or test naming only --secret-file has no database here.
        if secretFile == nil || config != nil { CommandLineStore.audit(settings, action: "token.issue", target: "token/\(subject)", detail: "role=\(role) ttl=\(ttl)") }
    }
}
