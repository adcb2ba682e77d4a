import ArgumentParser
import Foundation
import GiaobanAuth
import GiaobanServer
import GiaobanStore

/// `giaoban recordings`: meeting recordings (docs/recording.md).
struct Recordings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meeting recordings (docs/recording.md).",
        subcommands: [RecordingsVerify.self]
    )
}

/// `giaoban recordings verify DIR`: checks a meeting's files against its signed manifest.
struct RecordingsVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a meeting's recording files against its signed manifest.json.",
        discussion: """
            DIR is one meeting's directory (storage.recordings_dir/<meeting id>). Checks the manifest's \
            HMAC-SHA256 signature under the server's token secret (auth.secret_file), then every file's size \
            and SHA-256, and (unless --secret-file is given instead of the configuration) that the database's \
            rows of the meeting's files agree with the manifest. Exit 0 when everything holds; 1 naming each \
            changed or missing file; 2 when the secret or the database cannot be read.
            """
    )

    @Argument(help: "The meeting's recording directory.")
    var directory: String

    @Option(name: .shortAndLong, help: "Configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG).")
    var config: String?

    @Option(help: "The token secret file (default: the configuration's auth.secret_file).")
    var secretFile: String?

    func run() throws {
        let path = try secretFile ?? CommandLineStore.settings(config).auth.secretFile
        guard FileManager.default.fileExists(atPath: path), let secret = try? TokenAuthority.loadOrCreateSecret(at: path).secret else {
            CommandLineStore.warn("giaoban recordings verify: cannot read the token secret \(path)")
            throw ExitCode(2)
        }
        var problems = RecordingManifest.verify(directory: directory, secret: secret)
        // With the configuration (not only a secret file), the database's rows must agree too.
        if secretFile == nil, let meeting = RecordingManifest.meeting(inDirectory: directory) {
            let settings = try CommandLineStore.settings(config)
            do throws(StoreError) {
                let rows = try RecordingFiles(database: try CommandLineStore.open(settings)).listNow(meeting: meeting)
                problems += RecordingManifest.compare(directory: directory, rows: rows.map { ($0.name, $0.size, $0.sha256) })
            } catch {
                CommandLineStore.warn("giaoban recordings verify: cannot read the database (\(settings.storage.location)): \(error)")
                throw ExitCode(2)
            }
        }
        guard problems.isEmpty else {
            for problem in problems { print(problem) }
            print("recording NOT intact: \(problems.count) problem(s) in \(directory)")
            throw ExitCode(1)
        }
        print("recording intact: \(directory)")
    }
}
