import Foundation
import GiaobanStore

/// The JSON messages the hub pushes over WebSocket (docs/hub.md lists them with examples).
/// Every message has a `type`.
package enum HubMessage {
    static package func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error","message":"cannot encode"}"#
    }

    package struct Hello: Encodable {
        let type = "hello"
        let subject: String
        let role: String
        let channel: String
        let pending: Int
    }

    package struct IncidentPush: Encodable {
        let type = "incident"
        let incident: IncidentView
        package init(incident: IncidentView) { self.incident = incident }
    }

    package struct BriefingPush: Encodable {
        let type = "briefing"
        let briefing: BriefingView
        package init(briefing: BriefingView) { self.briefing = briefing }
    }

    package struct Escalation: Encodable {
        let type = "escalation"
        let incident_id: Int64
        let recipient: String
        let routed_at: Int64
        let escalated_at: Int64
    }

    package struct Receipt: Encodable {
        let type = "receipt"
        let kind: String
        let id: Int64
        let recipient: String
        let step: String
        let by: String
        let at: Int64
        package init(kind: String, id: Int64, recipient: String, step: String, by: String, at: Int64) {
            (self.kind, self.id, self.recipient, self.step, self.by, self.at) = (kind, id, recipient, step, by, at)
        }
    }

    package struct StateChange: Encodable {
        let type = "incident_state"
        let id: Int64
        let from: String
        let to: String
        let actor: String
        let at: Int64
        package init(id: Int64, from: String, to: String, actor: String, at: Int64) {
            (self.id, self.from, self.to, self.actor, self.at) = (id, from, to, actor, at)
        }
    }

    package struct ErrorReply: Encodable {
        let type = "error"
        let message: String
    }

    static package func hello(subject: String, role: String, channel: String, pending: Int) -> String {
        encode(Hello(subject: subject, role: role, channel: channel, pending: pending))
    }

    static package func escalation(incidentID: Int64, recipient: String, routedAt: Int64, escalatedAt: Int64) -> String {
        encode(Escalation(incident_id: incidentID, recipient: recipient, routed_at: routedAt, escalated_at: escalatedAt))
    }

    static package func error(_ message: String) -> String { encode(ErrorReply(message: message)) }
}
