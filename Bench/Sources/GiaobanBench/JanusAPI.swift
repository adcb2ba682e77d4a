import Foundation
import GiaobanClient

/// One session of Janus's HTTP REST API (Janus docs, "RESTful, HTTP/HTTPS API"): `POST
/// /janus` creates the session, `POST /janus/<session>` attaches plugin handles and sends
/// them messages, `GET /janus/<session>?maxev=N` long-polls the events that answer the
/// asynchronous requests (a VideoRoom `join`, `publish` or `start` is answered `ack` at once
/// and by an `event` later). Events that arrive before anyone waits for them are kept.
///
/// Blocking and single-threaded, like the rest of the bench's control code.
final class JanusAPI {
    /// A JSON object as `JSONSerialization` reads it.
    typealias Object = [String: Any]

    /// Janus answered with an error, or not as expected.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The session id.
    private(set) var session: UInt64 = 0
    private var http: HTTPClient
    private var pending: [Object] = []
    private var transactions = 0

    /// How long a long poll may stay open: Janus answers an idle one with a keepalive after 30 s.
    static let longPoll: Duration = .seconds(35)

    /// Creates a session on the Janus at `baseURL`.
    init(baseURL: String) throws {
        http = try HTTPClient(baseURL: baseURL)
        http.timeout = .seconds(10)
        let created = try post("/janus", ["janus": "create"])
        guard let id = Self.id(created["data"]) else { throw Failure(description: "create: no session id in \(created)") }
        session = id
    }

    /// Attaches a handle to `plugin` and returns its id.
    func attach(plugin: String = "janus.plugin.videoroom") throws -> UInt64 {
        let attached = try post("/janus/\(session)", ["janus": "attach", "plugin": plugin])
        guard let id = Self.id(attached["data"]) else { throw Failure(description: "attach: no handle id in \(attached)") }
        return id
    }

    /// Sends `body` (and a JSEP offer or answer) to the plugin of `handle`; returns the
    /// plugin's data and JSEP, from the response itself (synchronous requests) or from the
    /// event with the same transaction (asynchronous ones), waiting up to `timeout` seconds.
    @discardableResult
    func message(_ handle: UInt64, _ body: Object, jsep: Object? = nil, timeout: Double = 10) throws -> (data: Object, jsep: Object?) {
        var request: Object = ["janus": "message", "body": body]
        if let jsep { request["jsep"] = jsep }
        let name = body["request"] as? String ?? "message"
        let (response, transaction) = try postTransaction("/janus/\(session)/\(handle)", request)
        let reply: Object
        switch response["janus"] as? String {
        case "success": reply = response
        case "ack":
            reply = try event(timeout: timeout, what: "the answer to \(name)") {
                $0["janus"] as? String == "event" && $0["transaction"] as? String == transaction
            }
        default: throw Failure(description: "\(name): unexpected response \(response)")
        }
        let data = (reply["plugindata"] as? Object)?["data"] as? Object ?? [:]
        if let error = data["error"] {
            throw Failure(description: "\(name): VideoRoom error \(data["error_code"] ?? "?"): \(error)")
        }
        return (data, reply["jsep"] as? Object)
    }

    /// Waits up to `timeout` seconds (plus one long poll at most) for an event matching
    /// `match`, keeping the others.
    func event(timeout: Double, what: String, _ match: (Object) -> Bool) throws -> Object {
        let deadline = nowNanoseconds() + UInt64(timeout * 1e9)
        while true {
            if let index = pending.firstIndex(where: match) { return pending.remove(at: index) }
            guard nowNanoseconds() < deadline else {
                throw Failure(description: "Janus sent no \(what) within \(format(timeout)) s")
            }
            try poll()
        }
    }

    /// Waits for `webrtcup` on `handle`: ICE and DTLS are done on Janus's side.
    func webrtcUp(_ handle: UInt64, timeout: Double = 10) throws {
        _ = try event(timeout: timeout, what: "webrtcup for handle \(handle)") {
            $0["janus"] as? String == "webrtcup" && Self.id($0["sender"]) == handle
        }
    }

    /// Fetches what Janus queued (one long poll) and drops what nobody will wait for:
    /// keepalives and the media and slow-link notifications.
    func poll() throws {
        var client = http
        client.timeout = Self.longPoll
        let response = try client.request("GET", "/janus/\(session)?maxev=50")
        guard response.status == 200 else { throw Failure(description: "long poll: HTTP \(response.status) \(response.text.prefix(200))") }
        let json = try JSONSerialization.jsonObject(with: Data(response.text.utf8))
        let events = json as? [Object] ?? (json as? Object).map { [$0] } ?? []
        pending += events.filter { !["keepalive", "media", "slowlink"].contains($0["janus"] as? String ?? "") }
        if pending.count > 1000 { pending.removeFirst(pending.count - 1000) }
    }

    /// Destroys the session and every handle in it.
    func destroy() {
        _ = try? post("/janus/\(session)", ["janus": "destroy"])
    }

    private func post(_ path: String, _ object: Object) throws -> Object {
        let (response, _) = try postTransaction(path, object)
        if response["janus"] as? String == "error" {
            let error = response["error"] as? Object
            throw Failure(description: "\(object["janus"] ?? "request"): Janus error \(error?["code"] ?? "?"): \(error?["reason"] ?? response)")
        }
        return response
    }

    private func postTransaction(_ path: String, _ object: Object) throws -> (Object, String) {
        transactions += 1
        let transaction = "t\(transactions)"
        var body = object
        body["transaction"] = transaction
        let bytes = try JSONSerialization.data(withJSONObject: body)
        let response = try http.request("POST", path, headers: [("Content-Type", "application/json")], body: Array(bytes))
        guard response.status == 200,
              let json = try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? Object else {
            throw Failure(description: "POST \(path): HTTP \(response.status) \(response.text.prefix(200))")
        }
        return (json, transaction)
    }

    /// A Janus id (a JSON number below 2^53), from a number or from `{"id": number}`.
    static func id(_ value: Any?) -> UInt64? {
        if let object = value as? Object { return id(object["id"]) }
        return (value as? NSNumber)?.uint64Value
    }
}
