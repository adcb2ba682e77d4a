public import GiaobanStore

/// What one node tells the others after a commit, as the payload of
/// `NOTIFY giaoban_hub` (docs/postgresql.md, "Hub events across nodes"). Ids only: the node
/// that hears it reads the rows back from the database.
///
/// `<kind>:<id>:<origin>` then, for some kinds, more fields; the recipient (a directory id)
/// comes last so that it may hold a `:`. The origin node's tag never holds one.
public enum HubNotice: Sendable, Equatable {
    /// An incident was stored and routed: `incident:<id>:<origin>`.
    case incident(Int64)
    /// A briefing was sent: `briefing:<id>:<origin>`.
    case briefing(Int64)
    /// A recipient's step was recorded: `receipt:<item id>:<origin>:<kind>:<step>:<recipient>`,
    /// step `delivered`, `read` or `acknowledged`.
    case receipt(kind: DeliveryKind, itemID: Int64, step: String, recipient: String)
    /// An incident changed state: `state:<id>:<origin>:<from>:<to>`.
    case state(incidentID: Int64, from: String, to: String)
    /// A commune's missing acknowledgement was escalated: `escalation:<id>:<origin>:<recipient>`.
    case escalation(incidentID: Int64, recipient: String)

    /// The NOTIFY payload for this notice from node `origin`.
    public func payload(origin: String) -> String {
        switch self {
        case .incident(let id): "incident:\(id):\(origin)"
        case .briefing(let id): "briefing:\(id):\(origin)"
        case .receipt(let kind, let id, let step, let recipient): "receipt:\(id):\(origin):\(kind.rawValue):\(step):\(recipient)"
        case .state(let id, let from, let to): "state:\(id):\(origin):\(from):\(to)"
        case .escalation(let id, let recipient): "escalation:\(id):\(origin):\(recipient)"
        }
    }

    /// The notice and its origin node in `payload`, or nil when it is not one.
    public static func parse(_ payload: String) -> (notice: HubNotice, origin: String)? {
        let fields = payload.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 3, let id = Int64(fields[1]), id > 0, !fields[2].isEmpty else { return nil }
        let origin = fields[2]
        /// Everything after the first `n` fields, colons kept (a recipient).
        func rest(after n: Int) -> String? {
            let parts = payload.split(separator: ":", maxSplits: n, omittingEmptySubsequences: false)
            return parts.count == n + 1 && !parts[n].isEmpty ? String(parts[n]) : nil
        }
        switch (fields[0], fields.count) {
        case ("incident", 3): return (.incident(id), origin)
        case ("briefing", 3): return (.briefing(id), origin)
        case ("state", 5): return (.state(incidentID: id, from: fields[3], to: fields[4]), origin)
        case ("escalation", _):
            guard let recipient = rest(after: 3) else { return nil }
            return (.escalation(incidentID: id, recipient: recipient), origin)
        case ("receipt", 6):
            guard let kind = DeliveryKind(rawValue: fields[3]), ["delivered", "read", "acknowledged"].contains(fields[4]),
                  let recipient = rest(after: 5) else { return nil }
            return (.receipt(kind: kind, itemID: id, step: fields[4], recipient: recipient), origin)
        default: return nil
        }
    }
}
