import Foundation
import GiaobanStore
public import Hummingbird
import GiaobanIncidents
import GiaobanHub

extension Response {
    /// A JSON response (keys sorted, slashes unescaped).
    static func json(_ status: HTTPResponse.Status, _ value: some Encodable, location: String? = nil) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A body of bytes with a media type (snapshots, attachments, CSV). A type not on
    /// `passiveMediaTypes` (HTML, SVG, JavaScript, XML, anything a browser may run) is served
    /// as `application/octet-stream` and as a download, whatever the sender declared.
    static func bytes(_ data: [UInt8], contentType: String, filename: String? = nil) -> Response {
        let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let passive = passiveMediaTypes.contains(mediaType)
        var headers: HTTPFields = [.contentType: passive ? contentType : "application/octet-stream"]
        if let filename {
            headers[.contentDisposition] = "attachment; filename=\"\(filename.filter { $0 != "\"" && $0 != "\\" && !$0.isNewline })\""
        } else if !passive {
            headers[.contentDisposition] = "attachment"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Media types served as declared: a browser shows them but runs nothing in them.
    static let passiveMediaTypes: Set<String> = [
        "application/octet-stream", "application/pdf", "application/zip", "text/plain", "text/csv",
        "image/jpeg", "image/png", "image/gif", "image/webp", "audio/ogg", "audio/mpeg", "audio/wav", "video/mp4", "video/webm",
    ]
}


/// Reading the parts of a request the REST routes share, each failure a `PlainError` whose
/// message says what to send instead.
enum RequestParts {
    /// The positive integer path parameter `name` (e.g. an incident id).
    static func id(_ context: some RequestContext, _ name: String = "id", what: String) throws(PlainError) -> Int64 {
        let raw = context.parameters.get(name) ?? ""
        guard let id = Int64(raw), id > 0 else { throw PlainError(.badRequest, "'\(raw.prefix(20))' is not \(what) id") }
        return id
    }

    /// The request's media type, lowercased, without parameters.
    static func mediaType(_ request: Request) -> String {
        request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
    }

    /// The whole body, at most `limit` bytes.
    static func body(_ request: Request, limit: Int, what: String) async throws(PlainError) -> Data {
        do { return Data(try await request.body.collect(upTo: limit).readableBytesView) } catch {
            throw PlainError(.contentTooLarge, "the \(what) is larger than \(limit) bytes (http.max_body_bytes)")
        }
    }

    /// A JSON body decoded as `T`, with the offending field named when it does not fit.
    static func json<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int, what: String) async throws(PlainError) -> T {
        guard mediaType(request) == "application/json" else {
            throw PlainError(.unsupportedMediaType, "send the \(what) as application/json")
        }
        let data = try await body(request, limit: limit, what: what)
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            throw PlainError(.badRequest, "invalid \(what): \(IncidentJSON.describe(error))")
        } catch {
            throw PlainError(.badRequest, "invalid \(what): not JSON")
        }
    }

    /// `limit` (1…max, default `fallback`) and the cursor parameter `cursor` (0 or more).
    static func page(_ request: Request, cursor name: String, max: Int = 500, fallback: Int = 100) throws(PlainError) -> (limit: Int, cursor: Int64) {
        let query = request.uri.queryParameters
        var limit = fallback
        if let raw = query["limit"] {
            guard let value = Int(String(raw)), (1...max).contains(value) else {
                throw PlainError(.badRequest, "limit: '\(raw.prefix(20))' is not an integer in 1…\(max)")
            }
            limit = value
        }
        var cursor: Int64 = 0
        if let raw = query[Substring(name)] {
            guard let value = Int64(String(raw)), value >= 0 else {
                throw PlainError(.badRequest, "\(name): '\(raw.prefix(20))' is not an id (0 or more)")
            }
            cursor = value
        }
        return (limit, cursor)
    }
}

/// A store failure as the 503 every route answers with, logged once.
extension Hub {
    func unavailable(_ what: String, _ error: StoreError) -> PlainError {
        logger.error("cannot \(what)", metadata: ["error": "\(error)"])
        return PlainError(.serviceUnavailable, "cannot \(what) (storage: \(error.reason.rawValue)); retry")
    }

    /// Runs a store call; a storage failure becomes a logged 503 that says what could not be done.
    func stored<T>(_ what: @autoclosure () -> String, _ body: () async throws(StoreError) -> T) async throws(PlainError) -> T {
        do { return try await body() } catch { throw unavailable(what(), error) }
    }
}
