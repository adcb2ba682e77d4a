import GiaobanEngine
import GiaobanRooms

/// Link quality in the roster. (The K loudest audio and last-N video gates are the room's
/// stream group's, on the media thread: `MeetingRooms+Speaker.swift`, `StreamGroup`.)
extension MeetingRooms {
    /// Every `linksInterval` (2 s), reads each publishing participant's upstream loss and
    /// jitter from the relay; the roster goes out again when one changed noticeably (2 % loss,
    /// 10 ms jitter).
    func refreshLinks(_ id: Int64) async {
        guard rooms.withLock({ $0[id] != nil }) else { return }
        // The catch-all for downlinks: a publisher that vanished without leaving (a timeout).
        await renegotiateDownlinks(id)
        let quality = await sessions.media.ask(.upstreamQuality)
        let byStream = Dictionary(quality.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
        let subjects = rooms.withLock { Array(($0[id]?.participants ?? [:]).keys) }
        var links: [String: RoomMessage.Link?] = [:]
        for subject in subjects {
            let q = byStream[Self.stream(meeting: id, subject: subject)]
            links[subject] = q.map { RoomMessage.Link(loss: ($0.loss * 1000).rounded() / 1000, jitter_ms: ($0.jitterMilliseconds * 10).rounded() / 10) }
        }
        // The room sends the roster again when one moved noticeably (`differs`).
        await post(id, .linksMeasured(links))
    }
}
