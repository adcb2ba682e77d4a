import GiaobanAuth
import GiaobanHub
import GiaobanStore
import Hummingbird

/// Recording privileged actions in the audit trail (docs/audit.md). Each call site records
/// what it decided with one call: `audit` once the action is done, `authorizePrivileged` or
/// `refusing` where a valid token's holder is refused. A row that cannot be written is
/// logged at error level and counted (`giaoban_audit_append_failures_total`); the action
/// goes ahead all the same.
extension Hub {
    /// The audit trail in the hub's database.
    var auditLog: AuditLog { AuditLog(database: database) }

    /// Records that `claims`' holder did `action` on `target` (`result` "ok" or "refused: …").
    func audit(_ claims: TokenClaims, _ action: String, target: String, detail: String = "", result: String = "ok") async {
        await audit(subject: claims.sub, role: claims.role.rawValue, action, target: target, detail: detail, result: result)
    }

    /// Records that `subject` (holding `role`, "-" when unknown) did `action` on `target`.
    func audit(subject: String, role: String, _ action: String, target: String, detail: String = "", result: String = "ok") async {
        let entry = AuditEntry(at: clock(), subject: subject, role: role, remote: RequestOrigin.remote, action: action, target: target,
                               detail: detail, result: result)
        do throws(StoreError) { try await auditLog.append(entry) } catch {
            metrics.auditAppendFailures.add(1, ordering: .relaxed)
            logger.error("audit row not written; the action went ahead", metadata: [
                "action": "\(action)", "target": "\(target)", "subject": "\(subject)", "result": "\(result)", "error": "\(error)",
            ])
        }
    }

    /// The request's claims when its role is one of `roles`. A valid token of another role is
    /// refused (403) and the refusal of `action` on `target` recorded; a missing or invalid
    /// token is refused (401) unrecorded: there is nobody to record.
    func authorizePrivileged(_ request: Request, roles: Set<Role>, action: String, target: String) async throws(PlainError) -> TokenClaims {
        let claims = try tokens.authorize(request)
        do throws(PlainError) { try claims.require(roles) } catch {
            throw await refusing(claims, action, target: target, error)
        }
        return claims
    }

    /// Records `error` as the refusal of `action` on `target` and returns it, for `throw`.
    func refusing(_ claims: TokenClaims, _ action: String, target: String, _ error: PlainError) async -> PlainError {
        await audit(claims, action, target: target, result: "refused: \(error.message)")
        return error
    }

    /// Spends one `kind` request of `subject`; 429 with `Retry-After` when its budget per
    /// minute is spent (logged, counted in `giaoban_rate_limited_total`).
    func limit(_ kind: RateLimits.Kind, subject: String) throws(PlainError) {
        guard let wait = rateLimiter.take(kind, subject: subject, now: clock()) else { return }
        metrics.rateLimited.add(1, ordering: .relaxed)
        logger.warning("request refused: rate limit", metadata: ["kind": "\(kind.rawValue)", "subject": "\(subject)", "retry_after_s": "\(wait)"])
        throw PlainError(.tooManyRequests, Self.rateLimitMessage(kind, wait: wait, perMinute: settings.rateLimits.perMinute(kind)), retryAfter: wait)
    }

    /// Why a `kind` request was refused by its rate limit.
    static func rateLimitMessage(_ kind: RateLimits.Kind, wait: Int, perMinute: Int) -> String {
        "too many \(kind.rawValue) requests (at most \(perMinute) per minute): try again in \(wait) s"
    }
}
