import ArgumentParser
import Foundation
import GiaobanAuth
import GiaobanCrypto
import GiaobanServer
import GiaobanStore

/// `giaoban accounts`: people and stations that sign in (docs/accounts.md).
struct Accounts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accounts of people and stations in the configured database (docs/accounts.md).",
        subcommands: [AccountsAdd.self, AccountsDisable.self, AccountsEnable.self, AccountsList.self]
    )

    /// The account store of the configured database; exit 2 when it cannot be opened.
    static func store(_ settings: GiaobanConfig, command: String) throws -> AccountStore {
        do { return AccountStore(database: try CommandLineStore.open(settings)) } catch {
            CommandLineStore.warn("giaoban accounts \(command): cannot open \(settings.storage.location): \(error)")
            throw ExitCode(2)
        }
    }

    /// Runs a store call; a store error is printed and exits 2.
    static func run<T>(_ command: String, _ body: () throws(StoreError) -> T) throws -> T {
        do { return try body() } catch {
            CommandLineStore.warn("giaoban accounts \(command): \(error)")
            throw ExitCode(2)
        }
    }
}

/// `giaoban accounts add`: a new account, with a password for people.
struct AccountsAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add an account (without a password: a machine account that cannot sign in with one)."
    )

    @Option(help: "The subject its tokens carry (unique).") var subject: String
    @Option(help: "The role: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).") var role: String
    @Option(help: "The commune it belongs to.") var commune: String?
    @Option(help: "The name shown to people (default: the subject).") var name: String?
    @Option(help: "Read the password from the first line of this file.") var passwordFile: String?
    @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
    @Option(name: .shortAndLong, help: "Configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG).") var config: String?

    func validate() throws {
        guard Role(rawValue: role) != nil else {
            throw ValidationError("unknown role '\(role)' (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard !subject.isEmpty, subject.utf8.count <= 200, !subject.contains("\0") else { throw ValidationError("the subject must be 1 to 200 bytes") }
        guard passwordFile == nil || !passwordStdin else { throw ValidationError("give --password-file or --password-stdin, not both") }
    }

    /// The password given, or nil for a machine account.
    func password() throws -> String? {
        let text: String
        if let passwordFile {
            do { text = try String(contentsOfFile: passwordFile, encoding: .utf8) } catch { throw ValidationError("cannot read \(passwordFile)") }
        } else if passwordStdin {
            text = readLine(strippingNewline: true) ?? ""
        } else {
            return nil
        }
        let line = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        guard line.count >= 10 else { throw ValidationError("the password must have at least 10 characters") }
        return line
    }

    func run() throws {
        let settings = try CommandLineStore.settings(config)
        let hash = try password().map { try PasswordHash.make(password: $0).encoded }
        let store = try Accounts.store(settings, command: "add")
        let account = AccountRecord(subject: subject, displayName: name ?? subject, role: role, commune: commune, passwordHash: hash)
        guard try Accounts.run("add", { () throws(StoreError) in try store.addNow(account, now: StoreClock.nowMilliseconds()) }) else {
            CommandLineStore.warn("giaoban accounts add: the account '\(subject)' exists already")
            throw ExitCode(1)
        }
        CommandLineStore.audit(settings, action: "account.add", target: "account/\(subject)",
                               detail: "role=\(role)\(commune.map { " commune=\($0)" } ?? "") password=\(hash == nil ? "none" : "set")")
        print("account \(subject) added (\(role))")
    }
}

/// `giaoban accounts disable` and `enable`: what both do.
protocol AccountsToggle: ParsableCommand {
    var subject: String { get }
    var config: String? { get }
    static var enabled: Bool { get }
}

extension AccountsToggle {
    func run() throws {
        let verb = Self.enabled ? "enable" : "disable"
        let settings = try CommandLineStore.settings(config)
        let store = try Accounts.store(settings, command: verb)
        guard try Accounts.run(verb, { () throws(StoreError) in try store.setEnabledNow(subject, Self.enabled, now: StoreClock.nowMilliseconds()) }) else {
            CommandLineStore.warn("giaoban accounts \(verb): no account '\(subject)'")
            throw ExitCode(1)
        }
        CommandLineStore.audit(settings, action: "account.\(verb)", target: "account/\(subject)", detail: "")
        print("account \(subject) \(verb)d")
    }
}

/// `giaoban accounts disable`: the account can no longer sign in; its tokens stop working within seconds.
struct AccountsDisable: AccountsToggle {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Disable an account: sign-in, refresh and its tokens stop working.")
    static let enabled = false
    @Argument(help: "The account's subject.") var subject: String
    @Option(name: .shortAndLong, help: "Configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG).") var config: String?
}

/// `giaoban accounts enable`: the account may sign in again.
struct AccountsEnable: AccountsToggle {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Enable a disabled account again.")
    static let enabled = true
    @Argument(help: "The account's subject.") var subject: String
    @Option(name: .shortAndLong, help: "Configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG).") var config: String?
}

/// `giaoban accounts list`: every account, one a line, tab-separated.
struct AccountsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the accounts (subject, role, commune, state, name).")
    @Option(name: .shortAndLong, help: "Configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG).") var config: String?

    func run() throws {
        let settings = try CommandLineStore.settings(config)
        let store = try Accounts.store(settings, command: "list")
        for account in try Accounts.run("list", { () throws(StoreError) in try store.listNow() }) {
            let state = account.enabled ? (account.passwordHash == nil ? "enabled (no password)" : "enabled") : "disabled"
            print([account.subject, account.role, account.commune ?? "-", state, account.displayName].joined(separator: "\t"))
        }
    }
}
