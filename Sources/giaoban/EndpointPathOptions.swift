import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanWire

/// How an endpoint's media reaches the relay: `--ice-transport udp` (the default) or `tcp`
/// (ICE-TCP to the relay's passive candidate, RFC 6544, for a network that drops UDP), or
/// through a TURN server over UDP (`--ice-server turn:…`, RFC 8656).
struct MediaPathOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The media path: udp, or tcp (ICE-TCP to the relay's media.tcp_port, for networks that drop UDP).",
                               valueName: "udp|tcp"))
    var iceTransport = "udp"

    @Option(help: ArgumentHelp("Relay media through this TURN server over UDP, e.g. turn:203.0.113.7:3478?transport=udp (IPv4 literal). Without --turn-username, credentials come from the relay's GET /api/ice-servers with --token.",
                               valueName: "turn-url"))
    var iceServer: String?

    @Option(help: "The TURN username (with --turn-password); default: minted by the relay.")
    var turnUsername: String?

    @Option(help: "The TURN password.")
    var turnPassword: String?

    func validate() throws {
        guard let transport = ClientConnection.Transport(rawValue: iceTransport) else {
            throw ValidationError("--ice-transport must be udp or tcp")
        }
        if let iceServer {
            guard TURNServer.address(url: iceServer) != nil else {
                throw ValidationError("--ice-server must be turn:IPv4:port with ?transport=udp or no transport (got \(iceServer))")
            }
            guard transport == .udp else { throw ValidationError("--ice-server relays over UDP: drop --ice-transport tcp") }
        }
        guard (turnUsername == nil) == (turnPassword == nil) else {
            throw ValidationError("--turn-username and --turn-password go together")
        }
        if turnUsername != nil && iceServer == nil { throw ValidationError("--turn-username needs --ice-server") }
    }

    /// The transport asked for.
    var transport: ClientConnection.Transport { ClientConnection.Transport(rawValue: iceTransport) ?? .udp }

    /// The TURN server with its credential: the options', or one the relay at `url` mints for
    /// `token` (`GET /api/ice-servers`); nil without `--ice-server`.
    func turnServer(url: String, token: String?, caFile: String?) throws(EndpointFailure) -> TURNServer? {
        guard let iceServer, let address = TURNServer.address(url: iceServer) else { return nil }
        if let turnUsername, let turnPassword {
            return TURNServer(address: address, credential: STUNLongTermCredential(username: turnUsername, password: turnPassword))
        }
        guard let token else {
            throw EndpointFailure("--ice-server without --turn-username needs --token: the relay mints TURN credentials for a token")
        }
        let response: HTTPResponse
        do {
            response = try HTTPClient(baseURL: url, caFile: caFile)
                .request("GET", "/api/ice-servers", headers: [("Authorization", "Bearer \(token)")])
        } catch {
            throw EndpointFailure("cannot fetch TURN credentials from \(url)/api/ice-servers: \(error.message)")
        }
        guard response.status == 200 else {
            throw EndpointFailure("the relay refused TURN credentials (GET /api/ice-servers: \(response.status) \(response.text))")
        }
        struct Body: Decodable {
            struct Entry: Decodable {
                let urls: [String]
                let username: String?
                let credential: String?
            }
            let iceServers: [Entry]
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(response.body)) else {
            throw EndpointFailure("the relay's GET /api/ice-servers answer is not the expected JSON")
        }
        // The entry naming this server, else any TURN entry (one credential serves all of them).
        let entries = body.iceServers.filter { $0.username != nil && $0.credential != nil }
        guard let entry = entries.first(where: { $0.urls.contains(iceServer) }) ?? entries.first,
              let username = entry.username, let password = entry.credential else {
            throw EndpointFailure("the relay lists no TURN server with credentials (set media.ice_servers and media.turn_secret_file), or pass --turn-username/--turn-password")
        }
        return TURNServer(address: address, credential: STUNLongTermCredential(username: username, password: password))
    }
}
