import ArgumentParser
import GiaobanServer

/// The `giaoban` command: the relay server and its tools.
@main
struct Giaoban: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "giaoban",
        abstract: "Giaoban: WebRTC relay and operations hub for a province's police command center and its communes.",
        version: GiaobanVersion.string,
        subcommands: [Serve.self, Token.self, Accounts.self, Audit.self, Recordings.self, Endpoint.self, Version.self]
    )
}
