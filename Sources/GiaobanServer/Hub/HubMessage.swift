import Foundation
import GiaobanStore

/// The JSON messages the hub pushes over WebSocket (docs/hub.md lists them with examples).
/// Every message has a `type`.
enum HubMessage {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error","message":"cannot encode"}"#
    }

    struct Hello: Encodable {
        let type = "hello"
        let subject: String
        let role: String
        let channel: String
        let pending: Int
    }

    struct IncidentPush: Encodable {
        let type = "incident"
        let incident: IncidentView
    }

    struct BriefingPush: Encodable {
        let type = "briefing"
        let briefing: BriefingView
    }

    struct Escalation: Encodable {
        let type = "escalation"
        let incident_id: Int64
        let recipient: String
        let routed_at: Int64
        let escalated_at: Int64
    }

    struct Receipt: Encodable {
        let type = "receipt"
        let kind: String
        let id: Int64
        let recipient: String
        let step: String
        let by: String
        let at: Int64
    }

    struct StateChange: Encodable {
        let type = "incident_state"
        let id: Int64
        let from: String
        let to: String
        let actor: String
        let at: Int64
    }

    struct ErrorReply: Encodable {
        let type = "error"
        let message: String
    }

    static func hello(subject: String, role: String, channel: String, pending: Int) -> String {
        encode(Hello(subject: subject, role: role, channel: channel, pending: pending))
    }

    static func escalation(incidentID: Int64, recipient: String, routedAt: Int64, escalatedAt: Int64) -> String {
        encode(Escalation(incident_id: incidentID, recipient: recipient, routed_at: routedAt, escalated_at: escalatedAt))
    }

    static func error(_ message: String) -> String { encode(ErrorReply(message: message)) }
}
