extension SQLValue {
    /// Refuses a text parameter holding a NUL byte: SQLite's text columns are read back up to
    /// the first NUL and libpq sends text parameters up to it, so such text would be stored or
    /// read truncated (and two identifiers differing after a NUL would collide). Callers
    /// validate user text first; this is the last line.
    static func refuseNUL(_ values: [SQLValue]) throws(StoreError) {
        for (offset, value) in values.enumerated() {
            if case .text(let text) = value, text.utf8.contains(0) {
                throw StoreError(.statement, "parameter \(offset + 1) is text holding a NUL byte (U+0000), which would be truncated; refused")
            }
        }
    }
}
