import ArgumentParser
import GiaobanServer
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban serve`: loads the configuration and runs the server until SIGINT/SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the relay and control plane.",
        discussion: """
            Reads the configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG), then applies \
            GIAOBAN_<SECTION>_<KEY> environment overrides, e.g. GIAOBAN_HTTP_PORT=9000. \
            See docs/configuration.md.
            """
    )

    @Option(name: .shortAndLong, help: "Configuration file (TOML subset).")
    var config: String?

    @Flag(help: "Load and validate the configuration, print it, and exit.")
    var checkConfig = false

    func run() async throws {
        let env = ProcessInfoLite.environment
        let path = config ?? env["GIAOBAN_CONFIG"] ?? (fileExists("conf/giaoban.toml") ? "conf/giaoban.toml" : nil)
        let settings: GiaobanConfig
        do {
            settings = try GiaobanConfig.load(path: path, environment: env)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: settings.server.logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "giaoban")
        if checkConfig {
            print(settings)
            return
        }
        logger.info("starting", metadata: [
            "version": "\(GiaobanVersion.string)",
            "config": "\(path ?? "built-in defaults")",
            "http": "\(settings.http.address):\(settings.http.port)",
        ])
        try await ControlPlane.application(config: settings, logger: logger).runService()
    }
}

/// The process environment without Foundation.
enum ProcessInfoLite {
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }
