public import GiaobanEngine
import GiaobanTransport
import GiaobanMixer
import Synchronization
import GiaobanHub

/// Prometheus text exposition (version 0.0.4) of the media plane's counters.
enum MetricsText {
    static func render(_ snapshot: MediaServer.Snapshot) -> String {
        let c = snapshot.counters
        var out = ""
        func counter(_ name: String, _ help: String, _ value: Int) { out += metric("counter", name, help, value) }
        func gauge(_ name: String, _ help: String, _ value: Int) { out += metric("gauge", name, help, value) }
        counter("giaoban_udp_received_total", "Datagrams received on the media port.", c.received)
        out += "# HELP giaoban_udp_dropped_total Datagrams dropped, by reason.\n# TYPE giaoban_udp_dropped_total counter\n"
        for reason in DropReason.allCases {
            out += "giaoban_udp_dropped_total{reason=\"\(reason.label)\"} \(c.dropped(reason))\n"
        }
        let segmentation = UDPSocket.segmentation
        counter("giaoban_udp_segmented_sends_total", "Segmented sends (UDP_SEGMENT): one send call for several datagrams to one peer.",
                Int(segmentation.sends))
        counter("giaoban_udp_segmented_datagrams_total", "Datagrams sent inside segmented sends.", Int(segmentation.datagrams))
        gauge("giaoban_udp_segmentation_off", "1 once the kernel refused a segmented send: every datagram goes out on its own.",
              segmentation.off ? 1 : 0)
        counter("giaoban_rtp_received_total", "RTP packets received from publishers.", c.rtpReceived)
        counter("giaoban_rtp_forwarded_total", "RTP packets sent to subscribers.", c.rtpForwarded)
        counter("giaoban_rtp_mixed_total", "RTP packets of meeting mixes (audio and composed video) sent to listeners.", c.rtpMixed)
        counter("giaoban_rtp_retransmitted_total", "RTP packets resent in answer to NACKs.", c.rtpRetransmitted)
        counter("giaoban_nack_misses_total", "NACKed packets no longer cached.", c.nackMisses)
        out += "# HELP giaoban_nack_refused_total NACKed packets not sent again, by reason.\n# TYPE giaoban_nack_refused_total counter\n"
        for reason in NACKRefusal.allCases {
            out += "giaoban_nack_refused_total{reason=\"\(reason.label)\"} \(c.nackRefused(reason))\n"
        }
        counter("giaoban_rtcp_received_total", "RTCP compounds received.", c.rtcpReceived)
        counter("giaoban_rtcp_sent_total", "RTCP compounds sent.", c.rtcpSent)
        counter("giaoban_keyframe_requests_total", "Keyframe requests (PLI) sent to publishers.", c.keyframeRequests)
        counter("giaoban_upstream_nacks_total", "Sequence numbers asked for again from publishers (Generic NACK; retries count).",
                c.upstreamNACKs)
        counter("giaoban_upstream_recovered_total", "Packets lost on the way in that publishers sent again when asked.",
                c.upstreamRecovered)
        counter("giaoban_upstream_given_up_total", "Packets lost on the way in and given up after every retry.", c.upstreamGivenUp)
        counter("giaoban_layer_switches_total", "Simulcast layer switches made for subscribers.", c.layerSwitches)
        counter("giaoban_ice_restarts_total", "ICE restarts (new credentials, the same DTLS session).", c.iceRestarts)
        counter("giaoban_video_pauses_total", "Subscriber videos paused because no layer fitted their estimate.", c.videoPauses)
        counter("giaoban_remb_received_total", "Bandwidth estimates (REMB) received from subscribers.", c.rembReceived)
        counter("giaoban_stun_answered_total", "ICE connectivity checks answered.", c.stunAnswered)
        counter("giaoban_dtls_connected_total", "DTLS handshakes completed.", c.dtlsConnected)
        counter("giaoban_dtls_failed_total", "DTLS handshakes failed.", c.dtlsFailed)
        counter("giaoban_consent_expired_total", "Peers removed after consent expired (RFC 7675).", c.consentExpired)
        gauge("giaoban_peers", "Peer connections.", snapshot.peers)
        counter("giaoban_egress_protect_failures_total",
                "Packets an egress worker could not protect (SRTP), and so did not send (media.workers).",
                snapshot.egressProtectFailures)
        if let tcp = snapshot.tcp { out += render(tcp) }
        return out
    }

    /// The ICE-TCP listener: connections and frames, and why connections were closed.
    static func render(_ tcp: ICETCPListener.Counters) -> String {
        var out = metric("counter", "giaoban_ice_tcp_accepted_total", "ICE-TCP connections accepted.", tcp.accepted)
            + metric("counter", "giaoban_ice_tcp_refused_total", "ICE-TCP connections refused: too many open.", tcp.refused)
            + metric("counter", "giaoban_ice_tcp_closed_total", "ICE-TCP connections closed, for any reason.", tcp.closed)
            + metric("gauge", "giaoban_ice_tcp_connections", "ICE-TCP connections open.", tcp.open)
            + metric("counter", "giaoban_ice_tcp_frames_received_total", "RFC 4571 frames received on ICE-TCP connections.", tcp.framesReceived)
            + metric("counter", "giaoban_ice_tcp_frames_sent_total", "RFC 4571 frames sent on ICE-TCP connections.", tcp.framesSent)
            + metric("counter", "giaoban_ice_tcp_send_dropped_total",
                     "Frames not sent: the connection was gone or its peer stopped reading.", tcp.sendDropped)
        out += "# HELP giaoban_ice_tcp_rejected_total ICE-TCP connections closed for bad input or silence, by reason.\n"
            + "# TYPE giaoban_ice_tcp_rejected_total counter\n"
        for (reason, value) in [("oversize_frame", tcp.oversizeFrames), ("bad_frame", tcp.badFrames),
                                ("not_stun_first", tcp.notSTUNFirst), ("timeout", tcp.timedOut)] {
            out += "giaoban_ice_tcp_rejected_total{reason=\"\(reason)\"} \(value)\n"
        }
        return out
    }

    /// One metric: HELP, TYPE and its value.
    static func metric(_ type: String, _ name: String, _ help: String, _ value: Int) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
    }

    /// The trunks from the parent relay (docs/cascade.md): how many are connected, and per
    /// stream the packets received, the sequence numbers NACKed, the PLIs sent up and the
    /// reconnections.
    static func render(_ trunks: [String: RelayTrunks.State]) -> String {
        var out = metric("gauge", "giaoban_trunks_connected", "Trunks from the parent relay that are connected now.",
                         trunks.values.filter { $0.state == "connected" }.count)
        out += metric("gauge", "giaoban_trunks_retrying", "Trunks from the parent relay that are connecting or reconnecting.",
                      trunks.values.filter { $0.state != "connected" }.count)
        let series: [(String, String, (RelayTrunks.State) -> Int)] = [
            ("giaoban_trunk_packets_total", "RTP packets received from the parent over the stream's trunk.", { $0.packets }),
            ("giaoban_trunk_nacked_total", "Sequence numbers the trunk asked the parent for again.", { $0.nacked }),
            ("giaoban_trunk_keyframe_requests_total", "PLIs the trunk sent up to the parent.", { $0.keyframeRequests }),
            ("giaoban_trunk_reconnects_total", "Times the stream's trunk was re-established after a break.", { $0.reconnects }),
        ]
        for (name, help, value) in series where !trunks.isEmpty {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for (stream, state) in trunks.sorted(by: { $0.key < $1.key }) { out += "\(name){stream=\"\(Self.label(stream))\"} \(value(state))\n" }
        }
        if !trunks.isEmpty {
            out += "# HELP giaoban_trunk_layers Simulcast layers the stream's trunk pulls now, one connection each: as many as a watcher here takes.\n"
            out += "# TYPE giaoban_trunk_layers gauge\n"
            for (stream, state) in trunks.sorted(by: { $0.key < $1.key }) {
                out += "giaoban_trunk_layers{stream=\"\(Self.label(stream))\"} \(state.layers)\n"
            }
        }
        return out
    }

    /// `value` as a Prometheus label value: backslash, double quote and newline escaped.
    static func label(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The meetings' audio mixers, summed: ticks, decodes and Opus encodes since each mixer
    /// started (a mixer stopped with its meeting takes its totals with it).
    static func render(_ rooms: MeetingRooms) -> String {
        let all = rooms.mixerCounters()
        func sum(_ value: (AudioMixerCounters) -> Int) -> Int { all.reduce(0) { $0 + value($1) } }
        return metric("gauge", "giaoban_mixers", "Meeting audio mixers running.", all.count)
            + metric("counter", "giaoban_mixer_ticks_total", "Audio mixer ticks (20 ms each).", sum(\.ticks))
            + metric("counter", "giaoban_mixer_decodes_total", "Opus packets the audio mixers decoded.", sum(\.decodes))
            + metric("counter", "giaoban_mixer_encodes_total", "Opus encodes of the audio mixers (one per distinct mix per tick).", sum(\.encodes))
            + metric("counter", "giaoban_recording_write_failures_total",
                     "Meeting recording files stopped because they could not be created or written (disk full, …).",
                     rooms.recordingWriteFailures.load(ordering: .relaxed))
            + metric("gauge", "giaoban_meeting_rooms_open", "Meeting rooms open on this node (on a cluster: the rooms it holds).",
                     rooms.rooms.withLock { $0.count })
            + (rooms.homes.withLock { $0 }.map { homes in
                metric("counter", "giaoban_meeting_rooms_redirected_total",
                       "Room sockets sent to the node holding the room (moved).", homes.counters.redirected.load(ordering: .relaxed))
                    + metric("counter", "giaoban_meeting_rooms_taken_over_total",
                             "Meeting rooms this node took over, with their seats, from a node whose claim lapsed.",
                             homes.counters.takenOver.load(ordering: .relaxed))
                    + metric("counter", "giaoban_meeting_rooms_lost_total",
                             "Meeting rooms another node took over from this one while it could not renew its claims.",
                             homes.counters.lost.load(ordering: .relaxed))
                    + metric("counter", "giaoban_meeting_room_renewal_failures_total",
                             "Renewals of this node's room claims that failed (database unreachable).",
                             homes.counters.renewalFailures.load(ordering: .relaxed))
                    + metric("gauge", "giaoban_cluster_nodes", "Nodes of the cluster seen alive (this one included).",
                             homes.nodes.withLock { $0.count })
            } ?? "")
    }

    /// The HTTPS listener's handshakes.
    static func render(_ tls: TLSIdentity) -> String {
        metric("counter", "giaoban_tls_handshakes_total", "TLS handshakes completed on the control plane.",
               tls.handshakes.load(ordering: .relaxed))
            + metric("counter", "giaoban_tls_handshake_failures_total",
                     "Control-plane connections closed because their TLS handshake failed.",
                     tls.handshakeFailures.load(ordering: .relaxed))
    }

    static func render(_ hub: Hub) -> String {
        let m = hub.metrics
        var out = ""
        func metric(_ type: String, _ name: String, _ help: String, _ value: Int) { out += Self.metric(type, name, help, value) }
        metric("counter", "giaoban_incidents_stored_total", "Incidents stored (retries not counted).", m.incidentsStored.load(ordering: .relaxed))
        metric("counter", "giaoban_incidents_rejected_total", "Incident posts refused.", m.incidentsRejected.load(ordering: .relaxed))
        metric("counter", "giaoban_briefings_sent_total", "Briefings sent.", m.briefingsSent.load(ordering: .relaxed))
        metric("counter", "giaoban_hub_messages_pushed_total", "Messages queued to WebSocket clients.", m.messagesPushed.load(ordering: .relaxed))
        metric("counter", "giaoban_escalations_total", "Missing acknowledgements escalated to the command center.", m.escalations.load(ordering: .relaxed))
        metric("gauge", "giaoban_hub_connections", "Open event WebSockets.", hub.events.connectionCount)
        metric("gauge", "giaoban_escalation_leader", "1 when this node runs the escalation timer (alone, or the cluster's advisory-lock leader).",
               hub.runsEscalation ? 1 : 0)
        metric("counter", "giaoban_incidents_location_flagged_total", "Camera reports stored far (over 2 km) from the camera's directory position.",
               m.locationsFlagged.load(ordering: .relaxed))
        metric("counter", "giaoban_hub_sockets_refused_total", "WebSockets closed at open: the subject held security.max_sockets_per_subject.",
               m.socketsRefused.load(ordering: .relaxed))
        metric("counter", "giaoban_hub_slow_sockets_closed_total", "Event sockets closed because their mailbox overflowed; the client replays at reconnect.",
               m.slowSocketsClosed.load(ordering: .relaxed))
        metric("counter", "giaoban_audit_append_failures_total", "Privileged actions whose audit row could not be written (docs/audit.md).",
               m.auditAppendFailures.load(ordering: .relaxed))
        let cameras = hub.cameraStates.all
        metric("gauge", "giaoban_cameras_online", "Directory cameras whose RTSP stream plays now (docs/cameras.md).",
               cameras.values.filter { $0.state == "online" }.count)
        metric("gauge", "giaoban_cameras_offline", "Directory cameras with an rtsp_url that are connecting or offline.",
               cameras.values.filter { $0.state != "online" }.count)
        if !cameras.isEmpty {
            out += "# HELP giaoban_camera_online 1 while the camera's RTSP stream plays.\n# TYPE giaoban_camera_online gauge\n"
            for (id, entry) in cameras.sorted(by: { $0.key < $1.key }) { out += "giaoban_camera_online{camera=\"\(id)\"} \(entry.state == "online" ? 1 : 0)\n" }
        }
        metric("counter", "giaoban_rate_limited_total", "Requests refused with 429 or room joins closed by a per-subject rate limit (security.*_per_minute).",
               m.rateLimited.load(ordering: .relaxed))
        return out
    }
}
