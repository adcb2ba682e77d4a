import Foundation

/// Whom a room endpoint watches: the chair, the active speaker, everyone, or named
/// participants; never itself, and only participants who publish.
public struct WatchPolicy: Sendable, Equatable {
    /// Watch the chair (and admins chairing).
    public var chair: Bool
    /// Watch the active speaker, following it as it changes.
    public var speaker: Bool
    /// Watch everyone who publishes.
    public var everyone: Bool
    /// Watch these subjects too.
    public var subjects: Set<String>

    /// A policy; the default is the chair and the active speaker.
    public init(chair: Bool = true, speaker: Bool = true, everyone: Bool = false, subjects: Set<String> = []) {
        self.chair = chair
        self.speaker = speaker
        self.everyone = everyone
        self.subjects = subjects
    }

    /// Reads a comma-separated list of `chair`, `speaker`, `all`, `none` and subjects
    /// (e.g. `chair,speaker` or `chair,xa-an-phu`); nil when it is empty.
    public init?(parsing text: String) {
        self.init(chair: false, speaker: false)
        let words = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !words.isEmpty else { return nil }
        for word in words {
            switch word {
            case "chair": chair = true
            case "speaker": speaker = true
            case "all": everyone = true
            case "none": break
            default: subjects.insert(word)
            }
        }
    }

    /// The participants of `view` to watch now.
    public func participants(in view: RoomView) -> Set<String> {
        var wanted = Set<String>()
        for p in view.participants where p.publishing && p.subject != view.you {
            if everyone || subjects.contains(p.subject) || (chair && (p.role == "chair" || p.role == "admin"))
                || (speaker && p.subject == view.speaker) {
                wanted.insert(p.subject)
            }
        }
        return wanted
    }
}
