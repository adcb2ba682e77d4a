/// The checks every piece of user text passes before it is stored (incidents, CAP, briefings,
/// meetings, the directory). A `Character` can be any number of bytes (one grapheme of
/// 600,000 combining marks is one Character), so a limit in Characters alone bounds nothing:
/// text is limited in UTF-8 bytes too, at four bytes per allowed Character (enough for any
/// ordinary script, Vietnamese with its stacked marks included). NUL is refused: the database
/// layers would cut the text at it.
public enum UserText {
    /// Why `text` may not be stored under a limit of `maxCharacters`, or nil when it may.
    public static func problem(_ text: String, maxCharacters: Int) -> String? {
        let bytes = text.utf8.count
        let maxBytes = maxCharacters * 4
        if bytes > maxBytes { return "is \(bytes) bytes of UTF-8; at most \(maxBytes) bytes (and \(maxCharacters) characters)" }
        if text.utf8.contains(0) { return "must not contain a NUL character (U+0000)" }
        if text.count > maxCharacters { return "is longer than \(maxCharacters) characters" }
        return nil
    }
}
