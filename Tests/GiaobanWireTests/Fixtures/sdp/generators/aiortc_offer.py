import asyncio, sys
from aiortc import RTCPeerConnection, RTCConfiguration
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

async def main():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    offer = await pc.createOffer()
    await pc.setLocalDescription(offer)
    sys.stdout.write(pc.localDescription.sdp)
    await pc.close()

asyncio.run(main())
