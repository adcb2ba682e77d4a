public import Hummingbird

extension Response {
    /// A text/plain response with a one-line message: how every error of the control plane
    /// reaches a client (a WHIP client shows it to the user as it is).
    static func plain(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

/// An error that becomes a `Response.plain` when thrown from a route.
struct PlainError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    /// Seconds for `Retry-After` (a 429), or nil.
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.plain(status, message)
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }
}
