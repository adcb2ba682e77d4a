// Interface strings of the meeting's recording: indicator, chair's button, failures (merged into i18n.js).

/** Vietnamese and English strings of recording.js. */
export const RECORDING_STRINGS = {
  vi: {
    "recording.on": "● Đang ghi hình",
    "recording.started": "Cuộc họp đang được ghi hình.",
    "recording.stopped": "Đã dừng ghi hình cuộc họp.",
    "recording.start": "Ghi hình",
    "recording.stop": "Dừng ghi",
    "recording.failed": "Ngừng ghi tệp {file}: {error}",
  },
  en: {
    "recording.on": "● Recording",
    "recording.started": "The meeting is being recorded.",
    "recording.stopped": "The meeting is no longer recorded.",
    "recording.start": "Start recording",
    "recording.stop": "Stop recording",
    "recording.failed": "Recording of {file} stopped: {error}",
  },
};
