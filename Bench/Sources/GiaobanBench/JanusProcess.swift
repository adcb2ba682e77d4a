import Foundation
import GiaobanClient

#if canImport(Glibc)
import Glibc
#endif

/// Janus (Debian's `janus` 1.1.2) as the established SFU to compare with: `janus -F <dir>`
/// with a configuration written into a temporary directory — the VideoRoom plugin and the
/// plain HTTP transport on 127.0.0.1 only, no admin API, no event handlers, ICE-lite, an RTP
/// port range below the ephemeral ports — stopped with SIGTERM.
///
/// Janus's ICE never gathers a loopback interface (`ice_enforce_list` alone leaves it without
/// a candidate), so Janus runs with a tiny `LD_PRELOAD` library, compiled here with `cc`,
/// that clears `IFF_LOOPBACK` on the 127.0.0.1 entry `getifaddrs` returns: Janus then offers
/// a 127.0.0.1 host candidate. The library touches the Janus process only.
final class JanusProcess: MeasuredProcess {
    /// The REST API's base URL (`http://127.0.0.1:<port>`; the API lives under `/janus`).
    let baseURL: String
    /// The room configured for the bench.
    let room = 1234
    /// Where Janus writes its log.
    let logPath: String
    let process: Process
    let directory: String

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    /// The Debian package's plugin and transport folders.
    static let libraryFolder = "/usr/lib/x86_64-linux-gnu/janus"

    /// Writes the configuration, starts `binary` and waits up to `timeout` for the REST API
    /// to answer `GET /janus/info`.
    init(binary: String, plugin: Plugin = .videoRoom, timeout: Double = 10) throws {
        var template = Array("/tmp/giaoban-janus-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartError(description: "mkdtemp failed") }
        directory = String(cString: made)
        logPath = "\(directory)/janus.log"
        guard let httpPort = freeTCPPort() else { throw StartError(description: "no free TCP port") }
        baseURL = "http://127.0.0.1:\(httpPort)"
        let preload = try Self.writeConfiguration(in: directory, httpPort: httpPort, room: room, plugin: plugin)

        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = preload
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-F", "\(directory)/conf", "--disable-colors", "--disable-stdout", "--log-file=\(logPath)"]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = log
        process.standardError = log
        try process.run()

        var client = try HTTPClient(baseURL: baseURL)
        client.timeout = .seconds(2)
        let deadline = nowNanoseconds() + UInt64(timeout * 1e9)
        var lastError = "no answer"
        while nowNanoseconds() < deadline {
            guard process.isRunning else {
                throw StartError(description: "janus exited with status \(process.terminationStatus); its log:\n\(logTail())")
            }
            do {
                if try client.request("GET", "/janus/info").status == 200 { return }
            } catch {
                lastError = "\(error)"
            }
            sleep(seconds: 0.05)
        }
        stop()
        throw StartError(description: "Janus did not answer on 127.0.0.1:\(httpPort) within \(format(timeout)) s "
            + "(\(lastError)); its log:\n\(logTail())")
    }

    /// Writes `conf/` (janus.jcfg, the HTTP transport, the VideoRoom with `room`), folders
    /// holding links to the one plugin and the one transport, and the preload library;
    /// returns the library's path.
    private static func writeConfiguration(in directory: String, httpPort: UInt16, room: Int, plugin: Plugin) throws -> String {
        let files = FileManager.default
        for folder in ["conf", "plugins", "transports", "events", "loggers"] {
            try files.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
        }
        for (folder, library) in [("plugins", plugin.library), ("transports", "libjanus_http.so")] {
            let target = "\(libraryFolder)/\(folder)/\(library)"
            guard files.fileExists(atPath: target) else {
                throw StartError(description: "\(target) is missing (apt-get install janus)")
            }
            try files.createSymbolicLink(atPath: "\(directory)/\(folder)/\(library)", withDestinationPath: target)
        }
        // session_timeout 0: nobody long-polls while a step is measured, so sessions must not expire.
        // ice_lite: Janus answers the client's checks and sends none of its own, like the relay (RFC 8445 §2.5).
        try """
            general: {
                configs_folder = "\(directory)/conf"
                plugins_folder = "\(directory)/plugins"
                transports_folder = "\(directory)/transports"
                events_folder = "\(directory)/events"
                loggers_folder = "\(directory)/loggers"
                debug_level = 4
                session_timeout = 0
                server_name = "giaoban-bench"
            }
            media: {
                rtp_port_range = "20000-29999"
            }
            nat: {
                ice_lite = true
                ice_enforce_list = "127.0.0.1"
                ignore_mdns = true
            }
            events: {
                broadcast = false
            }

            """.write(toFile: "\(directory)/conf/janus.jcfg", atomically: true, encoding: .utf8)
        try """
            general: {
                json = "plain"
                base_path = "/janus"
                http = true
                port = \(httpPort)
                interface = "lo"
                https = false
            }
            admin: {
                admin_http = false
            }

            """.write(toFile: "\(directory)/conf/janus.transport.http.jcfg", atomically: true, encoding: .utf8)
        try plugin.configuration(room).write(toFile: "\(directory)/conf/\(plugin.configFile)", atomically: true, encoding: .utf8)
        return try compilePreload(in: directory)
    }

    /// The one plugin Janus loads, with its configuration of room `room`.
    struct Plugin: Sendable {
        let library: String
        let configFile: String
        let configuration: @Sendable (Int) -> String

        /// The VideoRoom with one room for a broadcast: Opus + VP8, no bitrate cap, no periodic FIR.
        static let videoRoom = Plugin(library: "libjanus_videoroom.so", configFile: "janus.plugin.videoroom.jcfg") { room in
            """
            general: {
            }
            room-\(room): {
                description = "giaoban-bench broadcast"
                publishers = 1
                bitrate = 0
                fir_freq = 0
                audiocodec = "opus"
                videocodec = "vp8"
                record = false
            }
            """
        }

        /// The AudioBridge with one 48 kHz mono room whose participants' RFC 6464 levels are read.
        static let audioBridge = Plugin(library: "libjanus_audiobridge.so", configFile: "janus.plugin.audiobridge.jcfg") { room in
            """
            general: {
            }
            room-\(room): {
                description = "giaoban-bench mixing"
                sampling_rate = 48000
                audiolevel_ext = true
                audiolevel_event = false
                record = false
            }
            """
        }
    }

    /// The `getifaddrs` wrapper that makes Janus gather 127.0.0.1.
    static let preloadSource = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <ifaddrs.h>
        #include <net/if.h>
        #include <netinet/in.h>
        #include <arpa/inet.h>

        int getifaddrs(struct ifaddrs **list) {
            static int (*real)(struct ifaddrs **);
            if (!real) real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
            int result = real(list);
            if (result != 0) return result;
            for (struct ifaddrs *a = *list; a; a = a->ifa_next)
                if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET &&
                    ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
                    a->ifa_flags &= ~IFF_LOOPBACK;
            return result;
        }

        """

    private static func compilePreload(in directory: String) throws -> String {
        guard let compiler = findOnPath("cc") ?? findOnPath("clang") ?? findOnPath("gcc") else {
            throw StartError(description: "no C compiler (cc, clang or gcc) to build the loopback preload library for Janus")
        }
        let source = "\(directory)/loopback-preload.c", library = "\(directory)/loopback-preload.so"
        try preloadSource.write(toFile: source, atomically: true, encoding: .utf8)
        do {
            _ = try RelayProcess.run(compiler, ["-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"])
        } catch {
            throw StartError(description: "building the loopback preload library for Janus failed: \(error)")
        }
        return library
    }
}
