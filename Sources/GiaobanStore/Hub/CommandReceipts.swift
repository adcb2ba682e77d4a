/// Store and forward on the command channel, per subject. Every chair, admin and observer
/// shares the `command` recipient, so one row per item cannot say who has it: each subject's
/// confirmations are kept in `command_receipts`, and `command_subjects` remembers when a
/// subject first connected. The `deliveries` row of the command center is marked delivered
/// only by the roles that act for it (the server decides which).
extension DeliveryStore {
    /// Items routed to the command center that `subject` has not confirmed, oldest first:
    /// those routed since its first connection, and any the command center's row does not
    /// show delivered. The first call for a subject records `now` as that first connection,
    /// so a new subject is not sent the whole history.
    public func pending(commandSubject subject: String, now: Int64) async throws(StoreError) -> [DeliveryRecord] {
        try await database.write { session throws(StoreError) in
            try session.run("INSERT INTO command_subjects (subject, first_connected_at) VALUES (?, ?) ON CONFLICT (subject) DO NOTHING",
                            [.text(subject), .integer(now)])
            return try session.rows("""
                SELECT \(Deliveries.columns) FROM deliveries d WHERE d.recipient = ?
                  AND NOT EXISTS (SELECT 1 FROM command_receipts r WHERE r.kind = d.kind AND r.item_id = d.item_id AND r.subject = ?)
                  AND (d.delivered_at IS NULL
                       OR d.created_at >= (SELECT first_connected_at FROM command_subjects WHERE subject = ?))
                ORDER BY d.created_at, d.kind, d.item_id
                """, [.text(commandCenterRecipient), .text(subject), .text(subject)]).map(Deliveries.decode)
        }
    }

    /// Records that each subject received the command center's item (once; repeats and
    /// items not routed to the command center change nothing), in one transaction.
    public func recordCommandReceipts(_ receipts: [(key: DeliveryKey, subject: String)], now: Int64) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            for (key, subject) in receipts where key.recipient == commandCenterRecipient {
                try session.run("""
                    INSERT INTO command_receipts (kind, item_id, subject, delivered_at)
                    SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM deliveries WHERE kind = ? AND item_id = ? AND recipient = ?)
                    ON CONFLICT (kind, item_id, subject) DO NOTHING
                    """, [.text(key.kind.rawValue), .integer(key.itemID), .text(subject), .integer(now),
                          .text(key.kind.rawValue), .integer(key.itemID), .text(commandCenterRecipient)])
            }
        }
    }
}
