extension EndpointPublisher.Settings {
    /// Takes what the relay's answer decided: the payload types and the audio level
    /// extension's ID (RFC 8285 §5).
    public mutating func accept(_ answer: RelayAnswer) {
        if let audio = answer.audio { audioPayloadType = audio.payloadType }
        if let video = answer.video { videoPayloadType = video.payloadType }
        audioLevelExtensionID = answer.audioLevelExtensionID
    }
}
