import ArgumentParser
import Foundation
import GiaobanServer
import GiaobanStore

/// `giaoban audit`: the audit trail of privileged actions (docs/audit.md).
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit trail of privileged actions (docs/audit.md).",
        subcommands: [AuditVerify.self]
    )
}

/// `giaoban audit verify`: walks the chain of the configured database.
struct AuditVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the audit trail's hash chain in the configured database.",
        discussion: """
            Prints the number of rows and the last row's hash when every row is intact (exit 0); \
            names the first edited or deleted row otherwise (exit 1). Exit 2: the database could not be read. \
            Keep the printed head elsewhere: a deleted last row shows only as a head that changed.
            """
    )

    @Option(name: .shortAndLong, help: "Configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG).")
    var config: String?

    func run() throws {
        let settings = try CommandLineStore.settings(config)
        let verification: AuditVerification
        do { verification = try AuditLog(database: try CommandLineStore.open(settings)).verifyNow() } catch {
            CommandLineStore.warn("giaoban audit verify: cannot read \(settings.storage.location): \(error)")
            throw ExitCode(2)
        }
        switch verification {
        case .intact(let rows, let head):
            print("audit trail intact: \(rows) rows, head \(head)")
        case .broken(let found):
            print("audit trail broken at row \(found.id): \(found)")
            throw ExitCode(1)
        }
    }
}

/// The configuration and database of a command that reads or writes the store.
enum CommandLineStore {
    /// The configuration file in use: `--config`, `$GIAOBAN_CONFIG`, else conf/giaoban.toml if present.
    static func path(_ config: String?) -> String? {
        config ?? ProcessInfo.processInfo.environment["GIAOBAN_CONFIG"] ?? (fileExists("conf/giaoban.toml") ? "conf/giaoban.toml" : nil)
    }

    /// The configuration loaded from `path(config)`.
    static func settings(_ config: String?) throws -> GiaobanConfig {
        do { return try GiaobanConfig.load(path: path(config), environment: ProcessInfo.processInfo.environment) } catch {
            throw ValidationError("configuration: \(error)")
        }
    }

    /// Opens the configured database.
    static func open(_ settings: GiaobanConfig) throws(StoreError) -> any RecordDatabase {
        try settings.storage.openDatabase(statementTimeoutMilliseconds: settings.security.postgresqlStatementTimeoutMs)
    }

    /// Records a command-line action in the audit trail, as the operating-system user with
    /// role `cli`; a failure is a warning on stderr, the action stands.
    static func audit(_ settings: GiaobanConfig, action: String, target: String, detail: String) {
        let env = ProcessInfo.processInfo.environment
        let user = env["SUDO_USER"] ?? env["USER"] ?? env["LOGNAME"] ?? "uid \(getuid())"
        let entry = AuditEntry(at: StoreClock.nowMilliseconds(), subject: user, role: "cli", action: action, target: target, detail: detail)
        do { try AuditLog(database: try open(settings)).appendNow(entry) } catch {
            warn("giaoban: warning: the audit row for \(action) was not written to \(settings.storage.location): \(error)")
        }
    }

    /// One line on stderr.
    static func warn(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
