import GiaobanCrypto

/// One privileged action as it is recorded (docs/audit.md): who, with which role, from where,
/// what, on what, and how it ended.
public struct AuditEntry: Sendable, Equatable {
    /// When it happened, milliseconds since 1970.
    public var at: Int64
    /// Who did it (the token's subject; the operating-system user for the command line).
    public var subject: String
    /// Their role (`chair`, `admin`, …; `cli` for the command line).
    public var role: String
    /// The client's address, when the server knows it.
    public var remote: String?
    /// What was done, `area.verb`: `meeting.create`, `room.mute`, `incident.state`, `token.issue`, ….
    public var action: String
    /// What it was done on, `kind/id`: `meeting/12`, `meeting/12/xa-b`, `incident/7`, `commune/xa-a`.
    public var target: String
    /// Parameters worth keeping (the new state, the role of an issued token); may be empty.
    public var detail: String
    /// `ok`, or `refused: <why>`.
    public var result: String

    /// Creates an entry.
    public init(at: Int64, subject: String, role: String, remote: String? = nil, action: String, target: String,
                detail: String = "", result: String = "ok") {
        self.at = at
        self.subject = subject
        self.role = role
        self.remote = remote
        self.action = action
        self.target = target
        self.detail = detail
        self.result = result
    }
}

/// A stored row of the audit trail: the entry, its id, and the chain's two hashes.
public struct AuditRecord: Sendable, Equatable {
    /// The row's id: 1, 2, 3, … in order of appending.
    public var id: Int64
    /// What was recorded.
    public var entry: AuditEntry
    /// The previous row's `hash` (`AuditRecord.genesis` for the first row).
    public var prevHash: String
    /// SHA-256 over `canonical(id:entry:prevHash:)`, 64 hexadecimal digits.
    public var hash: String

    /// The `prev_hash` of the first row: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// The bytes a row's hash covers: every field, in column order, each written as its
    /// UTF-8 length in decimal, `:`, the bytes and `,` (a netstring); a missing remote
    /// address is `-` alone, so that it differs from an empty one. No field can run into the
    /// next, and the previous hash is the last field: the chain.
    public static func canonical(id: Int64, entry: AuditEntry, prevHash: String) -> [UInt8] {
        var out: [UInt8] = []
        func field(_ text: String?) {
            guard let text else { out.append(UInt8(ascii: "-")); return }
            out += Array("\(text.utf8.count):".utf8)
            out += Array(text.utf8)
            out.append(UInt8(ascii: ","))
        }
        field(String(id))
        field(String(entry.at))
        field(entry.subject)
        field(entry.role)
        field(entry.remote)
        field(entry.action)
        field(entry.target)
        field(entry.detail)
        field(entry.result)
        field(prevHash)
        return out
    }

    /// The hash a row with these fields must carry.
    public static func hash(id: Int64, entry: AuditEntry, prevHash: String) -> String {
        SHA256Digest.hex(canonical(id: id, entry: entry, prevHash: prevHash))
    }
}

/// What `AuditLog.verify` found.
public enum AuditVerification: Sendable, Equatable {
    /// Every row's hash matches its fields and the row before it; `head` is the last row's
    /// hash (the genesis value when the trail is empty).
    case intact(rows: Int, head: String)
    /// The first row where the chain breaks, and why.
    case broken(AuditBreak)
}

/// Where and how the audit chain breaks.
public struct AuditBreak: Sendable, Equatable, CustomStringConvertible {
    /// How the chain breaks at `id`.
    public enum Kind: String, Sendable, Equatable {
        /// The row's fields no longer give its hash: it was edited.
        case edited
        /// The row does not follow the row before it: rows between them were deleted (or
        /// this row's `prev_hash` or id was edited).
        case deletedBefore
    }

    /// The first row found wrong.
    public let id: Int64
    /// How.
    public let kind: Kind
    /// The id of the intact row before it (0: none).
    public let previousID: Int64
    /// Rows checked and found intact before this one.
    public let intactRows: Int

    /// Creates a break.
    public init(id: Int64, kind: Kind, previousID: Int64, intactRows: Int) {
        self.id = id
        self.kind = kind
        self.previousID = previousID
        self.intactRows = intactRows
    }

    /// One line an operator can act on.
    public var description: String {
        switch kind {
        case .edited:
            "row \(id) was edited: its fields do not give its hash (\(intactRows) rows before it are intact)"
        case .deletedBefore:
            previousID == 0
                ? "row \(id) does not start the chain: the rows before it were deleted, or its prev_hash was edited"
                : "row \(id) does not follow row \(previousID): a row between them was deleted, or row \(id)'s prev_hash or id was edited"
        }
    }
}
