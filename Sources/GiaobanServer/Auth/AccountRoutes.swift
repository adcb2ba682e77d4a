import Foundation
import GiaobanAuth
import GiaobanCrypto
import GiaobanHub
import GiaobanStore
import Hummingbird

/// The admin's account and API key routes (docs/accounts.md); every change is an audit row:
///
/// - `GET /api/accounts`, `POST /api/accounts` (201; 409 when the subject exists),
///   `PATCH /api/accounts/{subject}` (`enabled`, `password`, `display_name`).
/// - `GET /api/keys[?subject=]`, `POST /api/keys` (201 with the key, shown only then),
///   `DELETE /api/keys/{id}` (204).
enum AccountAdmin {
    /// An account as the API shows it: never the password hash.
    struct View: Encodable {
        let subject: String
        let display_name: String
        let role: String
        let commune: Nullable<String>
        let enabled: Bool
        let has_password: Bool
        let locked_until: Nullable<Int64>
        let created_at: Int64
        let updated_at: Int64

        init(_ a: AccountRecord) {
            subject = a.subject
            display_name = a.displayName
            role = a.role
            commune = Nullable(a.commune)
            enabled = a.enabled
            has_password = a.passwordHash != nil
            locked_until = Nullable(a.lockedUntil)
            created_at = a.createdAt
            updated_at = a.updatedAt
        }
    }

    struct AccountList: Encodable { let accounts: [View] }

    struct NewAccount: Decodable {
        let subject: String
        let display_name: String?
        let role: String
        let commune: String?
        let password: String?
    }

    struct AccountChange: Decodable {
        let enabled: Bool?
        let password: String?
        let display_name: String?
    }

    struct KeyView: Encodable {
        let id: String
        let subject: String
        let label: String
        let created_at: Int64
        let created_by: String
        let revoked_at: Nullable<Int64>

        init(_ k: APIKeyRecord) {
            id = k.id
            subject = k.subject
            label = k.label
            created_at = k.createdAt
            created_by = k.createdBy
            revoked_at = Nullable(k.revokedAt)
        }
    }

    struct KeyList: Encodable { let keys: [KeyView] }

    struct NewKey: Decodable {
        let subject: String
        let label: String
    }

    struct IssuedKey: Encodable {
        let id: String
        let subject: String
        let label: String
        let created_at: Int64
        let key: String
    }

    /// 400 unless `text` is 1…`max` characters of printable text.
    static func check(_ text: String, _ field: String, max: Int = 200) throws(PlainError) {
        guard !text.isEmpty, text.count <= max, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PlainError(.badRequest, "\(field): 1–\(max) characters, no control characters")
        }
    }

    /// 400 unless `password` is 10…1024 characters.
    static func checkPassword(_ password: String) throws(PlainError) {
        guard (10...1_024).contains(password.count) else { throw PlainError(.badRequest, "password: 10–1024 characters") }
    }

    /// The scrypt hash of `password` (checked first; nil: none given), computed off the cooperative pool.
    static func hash(_ password: String?) async throws(PlainError) -> String? {
        guard let password else { return nil }
        try checkPassword(password)
        let result: String? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: try? PasswordHash.make(password: password).encoded) }
        }
        guard let result else { throw PlainError(.internalServerError, "the password could not be hashed") }
        return result
    }
}

extension Hub {
    func addAccountRoutes(to router: Router<some RequestContext>) {
        router.get("/api/accounts") { request, _ in try await self.listAccounts(request) }
        router.post("/api/accounts") { request, _ in try await self.addAccount(request) }
        router.patch("/api/accounts/:subject") { request, context in
            try await self.changeAccount(request, subject: context.parameters.get("subject") ?? "")
        }
        router.get("/api/keys") { request, _ in try await self.listKeys(request) }
        router.post("/api/keys") { request, _ in try await self.issueKey(request) }
        router.delete("/api/keys/:id") { request, context in try await self.revokeKey(request, id: context.parameters.get("id") ?? "") }
    }

    var accounts: AccountStore { AccountStore(database: database) }

    func listAccounts(_ request: Request) async throws -> Response {
        _ = try await authorizePrivileged(request, roles: [.admin], action: "account.list", target: "accounts")
        let accounts = accounts
        let all = try await stored("list the accounts") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try accounts.listNow() }
        }
        return .json(.ok, AccountAdmin.AccountList(accounts: all.map(AccountAdmin.View.init)))
    }

    func addAccount(_ request: Request) async throws -> Response {
        let claims = try await authorizePrivileged(request, roles: [.admin], action: "account.add", target: "account")
        let body = try await RequestParts.json(AccountAdmin.NewAccount.self, request, limit: 8_192, what: "account")
        try AccountAdmin.check(body.subject, "subject")
        guard Role(rawValue: body.role) != nil else {
            throw PlainError(.badRequest, "role: one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let commune = body.commune { try AccountAdmin.check(commune, "commune") }
        let name = body.display_name ?? body.subject
        try AccountAdmin.check(name, "display_name")
        let hash: String? = try await AccountAdmin.hash(body.password)
        let now = clock(), accounts = accounts
        let record = AccountRecord(subject: body.subject, displayName: name, role: body.role, commune: body.commune, passwordHash: hash,
                                   createdAt: now, updatedAt: now)
        let added = try await stored("add the account") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try accounts.addNow(record, now: now) }
        }
        guard added else { throw PlainError(.conflict, "the account '\(body.subject)' exists already") }
        await audit(claims, "account.add", target: "account/\(body.subject)",
                    detail: "role=\(body.role)\(body.commune.map { " commune=\($0)" } ?? "") password=\(hash == nil ? "none" : "set")")
        return .json(.created, AccountAdmin.View(record), location: "/api/accounts/\(body.subject)")
    }

    func changeAccount(_ request: Request, subject: String) async throws -> Response {
        let claims = try await authorizePrivileged(request, roles: [.admin], action: "account.change", target: "account/\(subject)")
        let body = try await RequestParts.json(AccountAdmin.AccountChange.self, request, limit: 8_192, what: "account change")
        guard body.enabled != nil || body.password != nil || body.display_name != nil else {
            throw PlainError(.badRequest, "nothing to change: give enabled, password or display_name")
        }
        if let name = body.display_name { try AccountAdmin.check(name, "display_name") }
        let hash: String? = try await AccountAdmin.hash(body.password)
        let now = clock(), accounts = accounts
        let found = try await stored("change the account") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) -> AccountRecord? in
                guard try accounts.updateNow(subject, displayName: body.display_name, passwordHash: hash, now: now) else { return nil }
                if let enabled = body.enabled { try accounts.setEnabledNow(subject, enabled, now: now) }
                return try accounts.accountNow(subject)
            }
        }
        guard let found else { throw PlainError(.notFound, "no account '\(subject.prefix(200))'") }
        let target = "account/\(subject)"
        if let enabled = body.enabled {
            await audit(claims, enabled ? "account.enable" : "account.disable", target: target)
            // This node follows at once; the others within their next read.
            await refreshRevocations()
        }
        if hash != nil { await audit(claims, "account.password", target: target) }
        if let name = body.display_name { await audit(claims, "account.change", target: target, detail: "display_name=\(name)") }
        return .json(.ok, AccountAdmin.View(found))
    }

    var apiKeys: APIKeys { APIKeys(database: database) }

    func listKeys(_ request: Request) async throws -> Response {
        _ = try await authorizePrivileged(request, roles: [.admin], action: "key.list", target: "keys")
        let subject = request.uri.queryParameters["subject"].map(String.init)
        let keys = apiKeys
        let all = try await stored("list the API keys") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try keys.listNow(subject: subject) }
        }
        return .json(.ok, AccountAdmin.KeyList(keys: all.map(AccountAdmin.KeyView.init)))
    }

    func issueKey(_ request: Request) async throws -> Response {
        let claims = try await authorizePrivileged(request, roles: [.admin], action: "key.issue", target: "key")
        let body = try await RequestParts.json(AccountAdmin.NewKey.self, request, limit: 4_096, what: "API key")
        try AccountAdmin.check(body.subject, "subject")
        try AccountAdmin.check(body.label, "label")
        let (id, key) = APIKeyGrants.makeKey()
        let digest = APIKeyGrants.digest(key), now = clock(), keys = apiKeys, issuer = claims.sub
        let record = try await stored("store the API key") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in
                try keys.issueNow(id: id, digest: digest, subject: body.subject, label: body.label, createdBy: issuer, now: now)
            }
        }
        guard let record else { throw PlainError(.notFound, "no account '\(body.subject.prefix(200))': create the account first") }
        await audit(claims, "key.issue", target: "key/\(id)", detail: "subject=\(body.subject) label=\(body.label)")
        await refreshRevocations()
        return .json(.created, AccountAdmin.IssuedKey(id: id, subject: record.subject, label: record.label, created_at: now, key: key),
                     location: "/api/keys/\(id)")
    }

    func revokeKey(_ request: Request, id: String) async throws -> Response {
        let claims = try await authorizePrivileged(request, roles: [.admin], action: "key.revoke", target: "key/\(id)")
        let now = clock(), keys = apiKeys
        let found = try await stored("revoke the API key") { () async throws(StoreError) in
            try await database.onQueue { () throws(StoreError) in try keys.revokeNow(id, now: now) }
        }
        guard found else { throw PlainError(.notFound, "no API key '\(id.prefix(64))'") }
        tokens.apiKeys?.remove(id: id)
        await audit(claims, "key.revoke", target: "key/\(id)")
        return Response(status: .noContent)
    }
}
