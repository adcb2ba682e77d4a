import Foundation
public import GiaobanAuth
public import GiaobanHub
public import GiaobanStore
import Hummingbird
import HummingbirdWebSocket
public import Logging

extension Hub {
    /// Every hub route, the event WebSocket included.
    func addRoutes(to router: Router<GiaobanRequestContext>) {
        addIncidentRoutes(to: router)
        addDirectoryRoutes(to: router)
        addPresenceRoute(to: router)
        addBriefingRoutes(to: router)
        addMeetingRoutes(to: router)
        addAuditRoutes(to: router)
        addSignInRoutes(to: router)
        addAccountRoutes(to: router)
        addEventSocket(to: router)
    }

    /// Opens the configured database, seeds the directory from `hub.directory_file` when the
    /// database holds none, and returns the hub.
    public static func open(config: GiaobanConfig, tokens: TokenAuthority, logger: Logger,
                            clock: @escaping @Sendable () -> Int64 = StoreClock.nowMilliseconds) async throws -> Hub {
        let database: any RecordDatabase
        do { database = try config.storage.openDatabase(statementTimeoutMilliseconds: config.security.postgresqlStatementTimeoutMs) } catch {
            let key = config.storage.backend == "postgresql" ? "storage.postgresql_url" : "storage.sqlite_path"
            throw HubOpenError("\(key): \(error)")
        }
        logger.info("storage open", metadata: ["backend": "\(config.storage.backend)", "location": "\(config.storage.location)"])
        let hub = try await Hub(database: database, tokens: tokens, settings: config.hub.settings(maxBodyBytes: config.http.maxBodyBytes,
                                                                                         security: config.security),
                                logger: logger, clock: clock)
        let path = config.hub.directoryFile
        if !path.isEmpty, !FileManager.default.fileExists(atPath: path) {
            logger.warning("the directory file does not exist; the directory starts as the database holds it",
                           metadata: ["hub.directory_file": "\(path)"])
        } else if !path.isEmpty {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw HubOpenError("hub.directory_file: cannot read \(path): \(error.localizedDescription)")
            }
            let file: DirectoryFile
            do { file = try DirectoryFile(parsing: data, source: path) } catch { throw HubOpenError("hub.directory_file: \(error.message)") }
            if try await hub.seedDirectory(file) {
                logger.notice("directory loaded", metadata: ["file": "\(path)", "communes": "\(file.communes.count)", "cameras": "\(file.cameras.count)"])
            } else {
                logger.info("directory kept from the database (the file seeds an empty directory only)", metadata: ["file": "\(path)"])
            }
        }
        if config.storage.backend == "postgresql" {
            // Other nodes on the same database push what they commit to this node's sockets.
            try await hub.joinCluster(url: config.storage.postgresqlURL, node: config.server.name)
        }
        return hub
    }
}

/// Why the hub could not start; the message names the configuration key.
public struct HubOpenError: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
