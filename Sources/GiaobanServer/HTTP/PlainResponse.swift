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

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        .plain(status, message)
    }
}
