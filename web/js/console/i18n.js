// Interface strings: Vietnamese first, English as the fallback and the `?lang=en` switch.
// Elements carry data-i18n="key" (text), data-i18n-label="key" (aria-label) or
// data-i18n-placeholder="key"; code calls t("key", {name: value}) for the rest. The strings of
// the sign-in, admin and audit views live in strings-accounts.js, those of the map in strings-map.js,
// those of the cameras in strings-camera.js.

import { ACCOUNT_STRINGS } from "./strings-accounts.js";
import { MAP_STRINGS } from "./strings-map.js";
import { CAMERA_STRINGS } from "./strings-camera.js";
import { RECORDING_STRINGS } from "./strings-recording.js";

const STRINGS = {
  vi: {
    "app.title": "Giaoban · Trung tâm chỉ huy",
    "skip": "Tới nội dung chính",
    "lang.other": "English",
    "signin.heading": "Đăng nhập",
    "signin.token": "Mã truy cập (JWT)",
    "signin.hint": "Dán mã do quản trị viên cấp (giaoban token) cho máy trạm hoặc kịch bản. Mã chỉ được giữ trong phiên của thẻ trình duyệt này.",
    "signin.submit": "Đăng nhập",
    "signin.bad": "Mã không đọc được: {reason}",
    "signin.refused": "Máy chủ từ chối mã: {reason}",
    "signin.role": "Vai trò '{role}' không dùng bảng điều khiển này.",
    "signout": "Đăng xuất",
    "who": "{subject} · {role}",
    "expires": "hết hạn {time}",
    "role.chair": "chủ trì", "role.admin": "quản trị", "role.commune": "xã", "role.observer": "quan sát",
    "events.online": "Trực tuyến", "events.offline": "Mất kết nối, đang thử lại…", "events.connecting": "Đang kết nối…",
    "tab.meeting": "Họp", "tab.incidents": "Sự vụ", "tab.briefings": "Chỉ đạo",
    "meeting.heading": "Cuộc họp",
    "meeting.list": "Các cuộc họp",
    "meeting.none": "Chưa có cuộc họp nào.",
    "meeting.title": "Tiêu đề",
    "meeting.when": "Thời gian",
    "meeting.duration": "Thời lượng (phút)",
    "meeting.start": "Bắt đầu ngay",
    "meeting.schedule": "Lên lịch",
    "meeting.join": "Vào họp",
    "meeting.leave": "Rời họp",
    "meeting.joined": "Đang họp: {title}",
    "meeting.notJoined": "Chưa vào cuộc họp nào.",
    "meeting.defaultTitle": "Giao ban",
    "meeting.roster": "Người tham dự",
    "meeting.subject": "Đơn vị", "meeting.state": "Trạng thái", "meeting.link": "Đường truyền", "meeting.actions": "Điều khiển",
    "meeting.you": "bạn",
    "meeting.present": "có mặt",
    "meeting.media": "media: {state}",
    "meeting.mutedSelf": "tự tắt mic",
    "meeting.mutedByChair": "chủ trì tắt mic",
    "meeting.hand": "giơ tay",
    "meeting.speaker": "đang nói",
    "meeting.spotlighted": "tâm điểm",
    "meeting.mute": "Tắt mic", "meeting.unmute": "Bật mic",
    "meeting.floor": "Cho phát biểu",
    "meeting.askUnmute": "Mời bật mic", "meeting.lowerHandOf": "Hạ tay",
    "meeting.inRoom": "{count} đang trong phòng",
    "meeting.unmuteRequested": "{by} mời bạn bật micro",
    "meeting.spotlight": "Tâm điểm", "meeting.unspotlight": "Bỏ tâm điểm",
    "meeting.muteAll": "Tắt mic tất cả",
    "meeting.lock": "Khóa phòng", "meeting.unlock": "Mở khóa phòng",
    "meeting.end": "Kết thúc họp",
    "meeting.endConfirm": "Kết thúc cuộc họp cho mọi người?",
    "meeting.rollcall": "Tải điểm danh (CSV)",
    "meeting.rollcallReady": "Điểm danh: {name}",
    "meeting.myMic": "Mic của tôi", "meeting.micOn": "Tắt mic của tôi", "meeting.micOff": "Bật mic của tôi",
    "meeting.raiseHand": "Giơ tay", "meeting.lowerHand": "Hạ tay",
    "meeting.cameraFailed": "Không mở được camera/mic: {reason}",
    "meeting.mutedNotice": "Chủ trì ({by}) đã tắt mic của bạn.",
    "meeting.unmutedNotice": "Chủ trì ({by}) đã cho phép bạn phát biểu.",
    "meeting.ended": "Cuộc họp đã kết thúc.",
    "meeting.replaced": "Bạn đã vào họp từ một kết nối khác.",
    "meeting.closed": "Mất kết nối phòng họp ({code}): {reason}",
    "meeting.reconnecting": "Mất kết nối phòng họp, đang kết nối lại…",
    "meeting.locked": "Phòng đang khóa",
    "meeting.count": "{count} người trong phòng",
    "meeting.noVideo": "Chưa có hình",
    "incidents.heading": "Sự vụ",
    "incidents.none": "Chưa có sự vụ nào.",
    "incidents.select": "Chọn một sự vụ để xem chi tiết.",
    "incidents.new": "Sự vụ mới: {type} — {text}",
    "incidents.escalated": "Quá hạn xác nhận",
    "incidents.snapshot": "Ảnh chụp",
    "incidents.noSnapshot": "Không có ảnh chụp.",
    "incidents.recipients": "Các xã được báo",
    "incidents.noDeliveries": "Chỉ trung tâm chỉ huy xem được bảng nhận tin.",
    "incidents.ack": "Xác nhận",
    "incidents.acked": "Đã xác nhận",
    "incidents.toState": "Chuyển sang: {state}",
    "incidents.location": "Vị trí", "incidents.time": "Thời điểm", "incidents.source": "Nguồn",
    "state.new": "mới", "state.acknowledged": "đã xác nhận", "state.dispatched": "đã điều lực lượng", "state.resolved": "đã xử lý xong",
    "severity.Extreme": "cực kỳ nghiêm trọng", "severity.Severe": "nghiêm trọng", "severity.Moderate": "trung bình",
    "severity.Minor": "nhẹ", "severity.Unknown": "chưa rõ",
    "col.recipient": "Xã", "col.delivered": "Đã nhận", "col.read": "Đã đọc", "col.acknowledged": "Đã xác nhận",
    "col.by": "Người xác nhận", "col.escalated": "Quá hạn",
    "briefings.heading": "Chỉ đạo",
    "briefings.compose": "Soạn chỉ đạo",
    "briefings.title": "Tiêu đề", "briefings.body": "Nội dung", "briefings.priority": "Mức độ",
    "priority.routine": "thường", "priority.priority": "ưu tiên", "priority.flash": "hỏa tốc",
    "briefings.audience": "Gửi đến",
    "audience.all": "Tất cả các xã", "audience.communes": "Danh sách xã", "audience.near": "Quanh một điểm",
    "briefings.lat": "Vĩ độ", "briefings.lon": "Kinh độ", "briefings.radius": "Bán kính (m)",
    "briefings.send": "Gửi",
    "briefings.sent": "Đã gửi chỉ đạo #{id} đến {count} xã.",
    "briefings.list": "Đã gửi",
    "briefings.inbox": "Chỉ đạo gửi đến xã",
    "briefings.none": "Chưa có chỉ đạo nào.",
    "briefings.receipts": "Tình trạng nhận: {title}",
    "briefings.markRead": "Đánh dấu đã đọc",
    "briefings.ack": "Xác nhận đã nhận",
    "briefings.acked": "Đã xác nhận",
    "briefings.summary": "{ack}/{total} xã đã xác nhận",
    "error.http": "Lỗi {status}: {reason}",
    "dash": "—",
  },
  en: {
    "app.title": "Giaoban · Command center",
    "skip": "Skip to the main content",
    "lang.other": "Tiếng Việt",
    "signin.heading": "Sign in",
    "signin.token": "Access token (JWT)",
    "signin.hint": "Paste the token an administrator issued (giaoban token) for a station or a script. It is kept only for this browser tab's session.",
    "signin.submit": "Sign in",
    "signin.bad": "The token cannot be read: {reason}",
    "signin.refused": "The server refused the token: {reason}",
    "signin.role": "The role '{role}' has no use for this console.",
    "signout": "Sign out",
    "who": "{subject} · {role}",
    "expires": "expires {time}",
    "role.chair": "chair", "role.admin": "admin", "role.commune": "commune", "role.observer": "observer",
    "events.online": "Online", "events.offline": "Disconnected, retrying…", "events.connecting": "Connecting…",
    "tab.meeting": "Meeting", "tab.incidents": "Incidents", "tab.briefings": "Briefings",
    "meeting.heading": "Meeting",
    "meeting.list": "Meetings",
    "meeting.none": "No meeting yet.",
    "meeting.title": "Title",
    "meeting.when": "Time",
    "meeting.duration": "Duration (minutes)",
    "meeting.start": "Start now",
    "meeting.schedule": "Schedule",
    "meeting.join": "Join",
    "meeting.leave": "Leave",
    "meeting.joined": "In meeting: {title}",
    "meeting.notJoined": "Not in a meeting.",
    "meeting.defaultTitle": "Briefing",
    "meeting.roster": "Participants",
    "meeting.subject": "Participant", "meeting.state": "State", "meeting.link": "Link", "meeting.actions": "Controls",
    "meeting.you": "you",
    "meeting.present": "present",
    "meeting.media": "media: {state}",
    "meeting.mutedSelf": "muted",
    "meeting.mutedByChair": "muted by chair",
    "meeting.hand": "hand raised",
    "meeting.speaker": "speaking",
    "meeting.spotlighted": "spotlight",
    "meeting.mute": "Mute", "meeting.unmute": "Unmute",
    "meeting.floor": "Give the floor",
    "meeting.askUnmute": "Ask to unmute", "meeting.lowerHandOf": "Lower hand",
    "meeting.inRoom": "{count} in the room",
    "meeting.unmuteRequested": "{by} asks you to turn your microphone on",
    "meeting.spotlight": "Spotlight", "meeting.unspotlight": "Clear spotlight",
    "meeting.muteAll": "Mute all",
    "meeting.lock": "Lock room", "meeting.unlock": "Unlock room",
    "meeting.end": "End meeting",
    "meeting.endConfirm": "End the meeting for everyone?",
    "meeting.rollcall": "Download roll call (CSV)",
    "meeting.rollcallReady": "Roll call: {name}",
    "meeting.myMic": "My microphone", "meeting.micOn": "Mute my microphone", "meeting.micOff": "Unmute my microphone",
    "meeting.raiseHand": "Raise hand", "meeting.lowerHand": "Lower hand",
    "meeting.cameraFailed": "Camera/microphone unavailable: {reason}",
    "meeting.mutedNotice": "The chair ({by}) muted you.",
    "meeting.unmutedNotice": "The chair ({by}) gave you the floor.",
    "meeting.ended": "The meeting has ended.",
    "meeting.replaced": "You joined again from another connection.",
    "meeting.closed": "Meeting room connection lost ({code}): {reason}",
    "meeting.reconnecting": "Meeting room connection lost, reconnecting…",
    "meeting.locked": "Room locked",
    "meeting.count": "{count} in the room",
    "meeting.noVideo": "No video yet",
    "incidents.heading": "Incidents",
    "incidents.none": "No incident yet.",
    "incidents.select": "Pick an incident to see its details.",
    "incidents.new": "New incident: {type} — {text}",
    "incidents.escalated": "Acknowledgement overdue",
    "incidents.snapshot": "Snapshot",
    "incidents.noSnapshot": "No snapshot.",
    "incidents.recipients": "Communes notified",
    "incidents.noDeliveries": "Only the command center sees the delivery table.",
    "incidents.ack": "Acknowledge",
    "incidents.acked": "Acknowledged",
    "incidents.toState": "Move to: {state}",
    "incidents.location": "Location", "incidents.time": "Time", "incidents.source": "Source",
    "state.new": "new", "state.acknowledged": "acknowledged", "state.dispatched": "dispatched", "state.resolved": "resolved",
    "severity.Extreme": "extreme", "severity.Severe": "severe", "severity.Moderate": "moderate",
    "severity.Minor": "minor", "severity.Unknown": "unknown",
    "col.recipient": "Commune", "col.delivered": "Delivered", "col.read": "Read", "col.acknowledged": "Acknowledged",
    "col.by": "By", "col.escalated": "Escalated",
    "briefings.heading": "Briefings",
    "briefings.compose": "New briefing",
    "briefings.title": "Title", "briefings.body": "Text", "briefings.priority": "Priority",
    "priority.routine": "routine", "priority.priority": "priority", "priority.flash": "flash",
    "briefings.audience": "Audience",
    "audience.all": "All communes", "audience.communes": "A list of communes", "audience.near": "Near a point",
    "briefings.lat": "Latitude", "briefings.lon": "Longitude", "briefings.radius": "Radius (m)",
    "briefings.send": "Send",
    "briefings.sent": "Briefing #{id} sent to {count} communes.",
    "briefings.list": "Sent",
    "briefings.inbox": "Briefings for this commune",
    "briefings.none": "No briefing yet.",
    "briefings.receipts": "Receipts: {title}",
    "briefings.markRead": "Mark as read",
    "briefings.ack": "Acknowledge",
    "briefings.acked": "Acknowledged",
    "briefings.summary": "{ack}/{total} communes acknowledged",
    "error.http": "Error {status}: {reason}",
    "dash": "—",
  },
};

for (const [language, strings] of Object.entries(ACCOUNT_STRINGS)) Object.assign(STRINGS[language], strings);
for (const [language, strings] of Object.entries(MAP_STRINGS)) Object.assign(STRINGS[language], strings);
for (const [language, strings] of Object.entries(CAMERA_STRINGS)) Object.assign(STRINGS[language], strings);
for (const [language, strings] of Object.entries(RECORDING_STRINGS)) Object.assign(STRINGS[language], strings);

const requested = new URLSearchParams(location.search).get("lang");
/** The interface language: `?lang=en` or `?lang=vi`, Vietnamese otherwise. */
export const lang = requested && STRINGS[requested] ? requested : "vi";

/** The string for key in the interface language (English, then the key, as fallbacks). */
export function t(key, values = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** Fills every data-i18n* element below root. */
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

/** The URL of this page in the other language. */
export function otherLanguageURL() {
  const url = new URL(location.href);
  url.searchParams.set("lang", lang === "vi" ? "en" : "vi");
  return url.toString();
}

/** A millisecond timestamp as local date and time in the interface language. */
export function formatTime(ms) {
  if (ms == null) return t("dash");
  return new Date(ms).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { dateStyle: "short", timeStyle: "medium" });
}
