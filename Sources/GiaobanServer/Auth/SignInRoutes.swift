import Dispatch
import Foundation
import GiaobanAuth
import GiaobanCrypto
import GiaobanHub
import GiaobanStore
import HTTPTypes
import Hummingbird

/// Password sign-in and refresh tokens (docs/accounts.md):
///
/// - `POST /api/auth/signin` `{"subject", "password"}` → 200 with an access token (a JWT of
///   `security.access_token_lifetime_s`, the account's role and commune) and a refresh token; 401 with one
///   message for an unknown subject, a wrong password or a disabled account; 429 with
///   `Retry-After` while the account is locked. Every attempt is recorded (`auth.signin`).
/// - `POST /api/auth/refresh` `{"refresh_token"}` → the same answer, the token rotated; a token
///   used twice revokes every token of its sign-in (401, recorded as `auth.refresh` refused).
/// - `POST /api/auth/signout` `{"refresh_token"}` → 204; the token is revoked.
enum SignIn {
    /// Lifetime of a refresh token, milliseconds (12 h).
    static let refreshLifetime: Int64 = 12 * 3_600_000
    /// The one answer to a refused sign-in: it does not say which part was wrong.
    static let refusal = "wrong subject or password, or the account is disabled"
    /// Compared against when the subject has no password, so that the answer takes as long.
    static let decoy = (try? PasswordHash.make(password: "decoy password of no account").encoded) ?? ""

    struct Credentials: Decodable {
        let subject: String
        let password: String
    }

    struct RefreshRequest: Decodable {
        let refresh_token: String
    }

    /// What a successful sign-in or refresh answers (RFC 6749 §5.1 names).
    struct Tokens: Encodable {
        let access_token: String
        let refresh_token: String
        let token_type = "Bearer"
        let expires_in: Int64
    }

    /// Whether `password` matches `encoded`, computed off the cooperative pool (scrypt takes
    /// tens of milliseconds and 32 MiB).
    static func verify(_ password: String, encoded: String) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: PasswordHash.verify(password, encoded: encoded)) }
        }
    }
}

extension Hub {
    func addSignInRoutes(to router: Router<some RequestContext>) {
        router.post("/api/auth/signin") { request, _ in try await self.signIn(request) }
        router.post("/api/auth/refresh") { request, _ in try await self.refresh(request) }
        router.post("/api/auth/signout") { request, _ in try await self.signOut(request) }
    }

    func signOut(_ request: Request) async throws -> Response {
        let body = try await RequestParts.json(SignIn.RefreshRequest.self, request, limit: 4_096, what: "sign-out")
        let now = clock()
        let tokens = RefreshTokens(database: database)
        if let subject = try await stored("sign out", { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try tokens.revokeNow(body.refresh_token, now: now) }
        }) {
            await audit(subject: subject, role: "-", "auth.signout", target: "account/\(subject)")
        }
        return Response(status: .noContent)
    }

    func signIn(_ request: Request) async throws -> Response {
        let credentials = try await RequestParts.json(SignIn.Credentials.self, request, limit: 4_096, what: "sign-in")
        let subject = credentials.subject
        guard !subject.isEmpty, subject.utf8.count <= 200 else { throw PlainError(.unauthorized, SignIn.refusal) }
        try limit(.signIn, subject: subject)
        let accounts = AccountStore(database: database)
        let account = try await stored("read the account") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try accounts.accountNow(subject) }
        }
        let now = clock(), role = account?.role ?? "-", target = "account/\(subject)"
        if let until = account?.lockedUntil, until > now {
            let seconds = (until - now + 999) / 1_000
            await audit(subject: subject, role: role, "auth.signin", target: target, result: "refused: locked for \(seconds) s")
            throw PlainError(.tooManyRequests, "too many failed sign-ins: try again in \(seconds) s", retryAfter: Int(seconds))
        }
        let matches = await SignIn.verify(credentials.password, encoded: account?.passwordHash ?? SignIn.decoy)
        guard let account, account.passwordHash != nil, matches, account.enabled, let claimsRole = Role(rawValue: account.role) else {
            let why = account == nil ? "unknown subject" : account?.enabled == false ? "account disabled"
                : account?.passwordHash == nil ? "no password" : matches ? "unknown role" : "wrong password"
            var detail = ""
            if account?.enabled == true, !matches {
                let lock = try await stored("record the failed sign-in") { () async throws(StoreError) in
                    try await database.onQueue { () throws(StoreError) in try accounts.recordFailureNow(subject, now: now) }
                }
                if let lock {
                    detail = "locked for \((lock - now) / 1_000) s"
                    logger.warning("sign-in locked after repeated failures", metadata: [
                        "subject": "\(subject.prefix(64))", "locked_s": "\((lock - now) / 1_000)", "remote": "\(RequestOrigin.remote ?? "-")"])
                }
            }
            await audit(subject: subject, role: role, "auth.signin", target: target, detail: detail, result: "refused: \(why)")
            throw PlainError(.unauthorized, SignIn.refusal)
        }
        try await stored("record the sign-in") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try accounts.recordSuccessNow(subject) }
        }
        let tokens = RefreshTokens(database: database)
        let refresh = try await stored("issue a refresh token") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in
                try tokens.issueNow(subject: subject, now: now, lifetime: SignIn.refreshLifetime)
            }
        }
        await audit(subject: subject, role: role, "auth.signin", target: target)
        return .json(.ok, tokenPair(account, role: claimsRole, refresh: refresh))
    }

    func refresh(_ request: Request) async throws -> Response {
        let body = try await RequestParts.json(SignIn.RefreshRequest.self, request, limit: 4_096, what: "refresh")
        let now = clock()
        let tokens = RefreshTokens(database: database)
        let outcome = try await stored("refresh") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try tokens.rotateNow(body.refresh_token, now: now, lifetime: SignIn.refreshLifetime) }
        }
        switch outcome {
        case .rotated(let account, let token):
            guard let role = Role(rawValue: account.role) else { throw PlainError(.unauthorized, "refresh token refused") }
            await audit(subject: account.subject, role: account.role, "auth.refresh", target: "account/\(account.subject)")
            return .json(.ok, tokenPair(account, role: role, refresh: token))
        case .reused(let subject):
            await audit(subject: subject, role: "-", "auth.refresh", target: "account/\(subject)",
                        result: "refused: a used refresh token presented again; every token of that sign-in revoked")
            throw PlainError(.unauthorized, "refresh token refused")
        case .refused:
            throw PlainError(.unauthorized, "refresh token refused")
        }
    }

    /// An access token for `account` (issued with the verifier's clock) and `refresh`.
    func tokenPair(_ account: AccountRecord, role: Role, refresh: String) -> SignIn.Tokens {
        let issued = Int64(Date().timeIntervalSince1970), lifetime = settings.accessTokenLifetimeSeconds
        let claims = TokenClaims(sub: account.subject, role: role, exp: issued + lifetime, iat: issued, commune: account.commune)
        return SignIn.Tokens(access_token: self.tokens.issue(claims), refresh_token: refresh, expires_in: lifetime)
    }
}
