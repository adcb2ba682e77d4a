import Foundation

/// A fresh database path in a directory of its own, removed by `cleanup`.
public struct TemporaryDatabase: Sendable {
    /// The directory of the database file.
    public let directory: String
    /// The database file.
    public var path: String { directory + "/store/test.sqlite" }

    /// A new path; nothing is created yet.
    public init() {
        directory = NSTemporaryDirectory() + "giaoban-store-" + UUID().uuidString
    }

    /// Removes the directory.
    public func cleanup() { try? FileManager.default.removeItem(atPath: directory) }
}
