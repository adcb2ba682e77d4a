import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto

/// `giaoban endpoint`: a commune endpoint without camera or microphone, for checking a
/// relay end to end: `publish` sends a synthetic picture and tone, `watch` receives and checks,
/// `join` takes a seat in a meeting room and does both over the room's socket.
struct Endpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a synthetic stream to a relay, watch one, or join a meeting room, and report what flowed.",
        subcommands: [EndpointPublish.self, EndpointWatch.self, EndpointJoin.self]
    )
}

/// Options every endpoint command takes: how long to run and how to report.
struct OutputOptions: ParsableArguments {
    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Flag(help: "Print the summary as JSON on stdout (status lines go to stderr).")
    var json = false

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
    }

    /// Prints a status line: to stdout, or to stderr when stdout carries JSON.
    func status(_ line: String) {
        if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
    }

    /// Prints the summary, as JSON or as `key: value` lines.
    func summary(_ fields: [(String, any Sendable)]) {
        if json {
            var object: [String: Any] = [:]
            for (key, value) in fields { object[key] = value }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (key, value) in fields { print("\(key): \(value)") }
        }
    }
}

/// What an endpoint trusts for https:// and wss://: `--ca-file`, else `GIAOBAN_CA_FILE`, else
/// the system's CAs.
struct TrustOptions: ParsableArguments {
    @Option(help: ArgumentHelp("PEM file of the CA (or the self-signed certificate) the control plane's https:// certificate must chain to; default $GIAOBAN_CA_FILE, else the system's CAs.",
                               valueName: "path"))
    var caFile: String?

    /// The CA file in effect, if any.
    var path: String? {
        if let caFile { return caFile }
        let env = ProcessInfo.processInfo.environment["GIAOBAN_CA_FILE"] ?? ""
        return env.isEmpty ? nil : env
    }

    func validate() throws {
        // OpenSSL's socket BIO writes with write(2), without MSG_NOSIGNAL: a server resetting a
        // TLS connection mid-write must give this command an error, not kill it with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        if let path, !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("the CA file \(path) cannot be read")
        }
    }
}

/// Options the WHIP/WHEP endpoint commands take.
struct EndpointOptions: ParsableArguments {
    @Option(help: "The relay's control plane, e.g. http://127.0.0.1:8080 or https://relay.example:8443.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "The stream name.")
    var stream: String

    @Option(help: "The bearer token (see `giaoban token`).")
    var token: String?

    @OptionGroup var trust: TrustOptions

    @OptionGroup var mediaPath: MediaPathOptions

    @OptionGroup var output: OutputOptions

    var duration: Double { output.duration }
    var json: Bool { output.json }
    func status(_ line: String) { output.status(line) }
    func summary(_ fields: [(String, any Sendable)]) { output.summary(fields) }

    func validate() throws {
        guard !stream.isEmpty, !stream.contains("/") else { throw ValidationError("--stream must be a name without '/'") }
    }

    /// Joins the stream, turning each client failure into one line an operator can act on.
    func join(_ mode: ClientOffer.Mode, url: String? = nil, videoCodec: String = "VP8", simulcastRIDs: [String] = []) throws
        -> (WHIPClient, ClientConnection, WHIPSession) {
        var options = self
        if let url { options.url = url }
        return try options.joinHere(mode, videoCodec: videoCodec, simulcastRIDs: simulcastRIDs)
    }

    private func joinHere(_ mode: ClientOffer.Mode, videoCodec: String, simulcastRIDs: [String]) throws
        -> (WHIPClient, ClientConnection, WHIPSession) {
        do {
            let whip = try WHIPClient(baseURL: url, token: token, caFile: trust.path)
            let context = try DTLSContext(certificate: DTLSCertificate())
            let turn = try mediaPath.turnServer(url: url, token: token, caFile: trust.path)
            let (connection, session) = try ClientConnection.join(whip, stream: stream, mode: mode, context: context,
                                                                  timeout: .seconds(10), videoCodec: videoCodec,
                                                                  simulcastRIDs: simulcastRIDs, transport: mediaPath.transport,
                                                                  turn: turn)
            return (whip, connection, session)
        } catch let error as ClientError {
            throw EndpointFailure(explain(error, watching: mode == .watch))
        } catch let failure as EndpointFailure {
            throw failure
        } catch {
            throw EndpointFailure("cannot create the DTLS certificate: \(error)")
        }
    }

    /// One actionable line for a client failure.
    func explain(_ error: ClientError, watching: Bool) -> String {
        switch error.reason {
        case .http:
            return "cannot reach the relay at \(url) (\(error.message)); check that `giaoban serve` runs there and the URL is right"
        case .tls where error.message.hasPrefix("certificate verify failed") && trust.path == nil:
            return "the relay's TLS certificate is not trusted (\(error.message)); pass the CA that signed it with --ca-file"
        case .tls:
            return "the TLS connection to the relay at \(url) failed (\(error.message)); check --ca-file and that the certificate names the host in the URL"
        case .rejected where error.message.contains(": 401") && token == nil:
            return "the relay requires a token (401); issue one with `giaoban token` and pass it with --token"
        case .rejected where error.message.contains(": 401"):
            return "the relay refused the token (401: expired, malformed or signed with another secret); issue a new one with `giaoban token`"
        case .rejected where error.message.contains(": 403"):
            return "the token may not \(watching ? "watch" : "publish") stream '\(stream)' (403); issue a token with the right role"
        case .rejected where error.message.contains(": 404") && watching:
            return "nobody publishes stream '\(stream)' (404); start the publisher first"
        case .rejected:
            return "the relay rejected the request: \(error.message)"
        case .iceFailed where mediaPath.transport == .tcp:
            return "ICE timed out (\(error.message)): the relay's ICE-TCP port answered no check; check the firewall and the relay's media.tcp_port"
        case .socket where mediaPath.transport == .tcp:
            return "cannot reach the relay's ICE-TCP port (\(error.message)); check that media.tcp_port is open on the relay and in the firewall"
        case .iceFailed:
            return "ICE timed out (\(error.message)): the relay's media port did not answer over UDP; check the firewall and the relay's media.announced_address"
        case .dtlsFailed:
            return "the DTLS handshake with the relay failed (\(error.message)); check that the relay's certificate matches its answer"
        default:
            return "\(error.reason.rawValue): \(error.message)"
        }
    }
}

/// A failure already phrased for the operator; printed as one line, exit status 1.
struct EndpointFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Exits non-zero with `failure`'s one line on stderr.
func fail(_ failure: EndpointFailure) -> ExitCode {
    FileHandle.standardError.write(Data("giaoban endpoint: \(failure.description)\n".utf8))
    return ExitCode.failure
}

/// Kilobits per second from a byte count over `seconds`.
func kbps(_ bytes: Int, over seconds: Double) -> Int {
    seconds > 0 ? Int((Double(bytes) * 8 / 1000 / seconds).rounded()) : 0
}
