// Parses raw bytes as SDP, reads every typed attribute at both levels, checks that each
// typed value re-parses from its own canonical text, then serializes the description,
// re-parses it and compares (the round trip must be exact).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let sdp = try? SessionDescription(parsing: bytes) else { return 0 }

    func roundTrip<T: SDPTypedAttribute>(_ value: T) {
        guard let again = try? T(attributeValue: value.attributeValue) else {
            fatalError("\(T.self) does not re-parse its own text: \(String(describing: value.attributeValue))")
        }
        precondition(again == value, "\(T.self) round trip differs: \(String(describing: value.attributeValue))")
    }

    func readAll(_ level: some SDPAttributed) {
        for attribute in level.attributes {
            // The parser validated every known attribute, so each must parse here.
            do {
                switch attribute.name {
                case "group": roundTrip(try SDPGroup(attribute))
                case "rtpmap": roundTrip(try SDPRTPMap(attribute))
                case "fmtp":
                    let f = try SDPFormatParameters(attribute)
                    roundTrip(f)
                    _ = f.associatedPayloadType
                case "rtcp-fb": roundTrip(try SDPRTCPFeedback(attribute))
                case "extmap": roundTrip(try SDPExtMap(attribute))
                case "ssrc": roundTrip(try SDPSSRCAttribute(attribute))
                case "ssrc-group": roundTrip(try SDPSSRCGroup(attribute))
                case "rid":
                    let r = try SDPRid(attribute)
                    roundTrip(r)
                    _ = (r.maxWidth, r.maxHeight, r.maxBitrate)
                case "simulcast": roundTrip(try SDPSimulcast(attribute))
                case "fingerprint": roundTrip(try SDPFingerprint(attribute))
                case "setup": roundTrip(try SDPSetup(attribute))
                case "msid": roundTrip(try SDPMSID(attribute))
                case "msid-semantic": roundTrip(try SDPMSIDSemantic(attribute))
                case "candidate":
                    let c = try SDPCandidate(attribute)
                    roundTrip(c)
                    _ = (c.generation, c.networkCost, c.isUDP)
                default: break
                }
            } catch {
                fatalError("validated attribute does not parse: \(attribute)")
            }
        }
        _ = (level.groups, level.bundleGroup, level.mid, level.rtpMaps, level.formatParameters)
        _ = (level.rtcpFeedback, level.extMaps, level.ssrcAttributes, level.ssrcs, level.ssrcGroups)
        _ = (level.rids, level.simulcast, level.msid, level.msidSemantic, level.iceUfrag, level.icePwd)
        _ = (level.iceLite, level.iceOptions, level.candidates, level.endOfCandidates, level.fingerprints)
        _ = (level.setup, level.rtcpMux, level.rtcpReducedSize, level.extmapAllowMixed, level.direction)
    }

    readAll(sdp)
    for section in sdp.media {
        readAll(section)
        for codec in section.codecs {
            _ = (codec.isRTX, codec.associatedPayloadType, section.rtxPayloadType(for: codec.payloadType))
        }
        _ = (section.payloadTypes, section.mediaLine, sdp.transport(for: section))
    }
    _ = sdp.bundledMedia

    let text = sdp.serialize()
    guard let again = try? SessionDescription(parsing: text) else {
        fatalError("serialized SDP does not parse:\n\(text)")
    }
    precondition(again == sdp, "SDP round trip differs:\n\(text)")
    precondition(again.serialize() == text, "serialization is not stable")
    return 0
}
