import Foundation
import HTTPTypes
public import Hummingbird
import GiaobanAuth

/// Adds `X-Content-Type-Options: nosniff` to every response, errors included, so that no
/// browser guesses an active type from a body (a stored attachment, a snapshot, a message);
/// over HTTPS also `Strict-Transport-Security`, so a browser never falls back to plain HTTP.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { HTTPField.Name("X-Content-Type-Options")! }
    static var hstsHeader: HTTPField.Name { HTTPField.Name("Strict-Transport-Security")! }
    /// The HSTS max-age in seconds; 0 sends none (plain HTTP).
    let hstsMaxAge: Int

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[Self.header] = "nosniff"
        if hstsMaxAge > 0 { response.headers[Self.hstsHeader] = "max-age=\(hstsMaxAge)" }
        return response
    }
}

/// Who may read `/metrics` and `/version`: a token of the hub (any valid token for
/// `/version`; admin or observer for `/metrics`), or the static scraper token of
/// `security.metrics_token_file` for `/metrics`.
struct OperatorAccess: Sendable {
    /// Verifies tokens (nil: no token authority, so only the static metrics token opens /metrics).
    let tokens: TokenAuthority?
    /// The content of `security.metrics_token_file` (nil: none configured).
    let metricsToken: [UInt8]?

    /// Reads `security.metrics_token_file`: its trimmed content, at least 16 characters.
    static func loadMetricsToken(_ path: String) throws(PlainError) -> [UInt8]? {
        guard !path.isEmpty else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PlainError(.internalServerError, "security.metrics_token_file: cannot read \(path)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.utf8.count >= 16 else {
            throw PlainError(.internalServerError, "security.metrics_token_file: the token in \(path) is shorter than 16 characters")
        }
        return Array(token.utf8)
    }

    /// 401/403 unless the request may read the metrics.
    func authorizeMetrics(_ request: Request) throws(PlainError) {
        if let metricsToken, let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            let given = Array(header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces).utf8)
            if TokenAuthority.constantTimeEqual(given, metricsToken) { return }
        }
        guard let tokens else { throw PlainError(.unauthorized, "missing or wrong Authorization: Bearer metrics token") }
        _ = try tokens.authorize(request, roles: [.admin, .observer])
    }

    /// 401 unless the request carries a valid token.
    func authorizeAny(_ request: Request) throws(PlainError) {
        guard let tokens else { throw PlainError(.unauthorized, "missing Authorization: Bearer token") }
        _ = try tokens.authorize(request)
    }
}
