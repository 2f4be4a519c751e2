"""Publishing for blogs: web-ready video files, poster, WebVTT subtitles, embed snippets, gallery.

After a render, :func:`publish_video` turns ``renders/<scene>.mp4`` (+ ``<scene>.srt``) into the
files a web page needs, all beside the video::

    <scene>.mp4         H.264, yuv420p, moov atom first ("faststart": plays while downloading)
    <scene>.webm        VP9 (offered first: smaller)
    <scene>.gif         for hosts that take no video
    <scene>.poster.png  a representative frame: the end state of the last storyboard step
    <scene>.srt/.vtt    subtitles; browsers read WebVTT

:func:`embed_snippet` prints the HTML (or Markdown) that embeds them, :func:`write_gallery` one page
showing every rendered video and SVG diagram with its captions and snippets. Files are encoded by
Debian's ``ffmpeg``; every output is written under a temporary name in the same folder and renamed
when complete, so a reader never sees half a file. This module imports neither Manim nor torch.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote
from transformer_core.files import temp_beside

__all__ = [
    "Cue",
    "Diagram",
    "PublishError",
    "VideoSet",
    "captions_burned_in",
    "diagram_snippet",
    "embed_snippet",
    "find_diagrams",
    "find_video",
    "find_videos",
    "format_srt",
    "srt_text",
    "format_vtt",
    "gallery_html",
    "parse_srt",
    "probe",
    "publish_video",
    "write_gallery",
]

WEB_PARTS = ("webm", "mp4", "poster", "vtt")  # what a <video> snippet needs
GIF_FPS = 10  # diagrams change in steps; 10 fps keeps motion readable at a third of the size
GIF_MAX_WIDTH = 640  # px; blog columns are narrower than this
SVG_NS = "{http://www.w3.org/2000/svg}"


class PublishError(RuntimeError):
    """ffmpeg is missing or failed, or an input file cannot be read."""


# --------------------------------------------------------------------------------------------
# Subtitles


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from ``start_ms`` to ``end_ms`` (integer milliseconds, as SRT stores)."""

    start_ms: int
    end_ms: int
    text: str


_SRT_TIME = re.compile(
    r"^\s*(\d+):(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(\d+):(\d{2}):(\d{2})[,.](\d{3})"
)


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


# SubRip has no escape: players (VLC, mpv) read <b>, <i>, <font ...> as markup and hide other
# tags such as <eos>, and libass reads {\...} as a style override. A caption's angle brackets
# are written as the look-alike single guillemets, and read back as brackets for the WebVTT
# (which escapes them properly).
_SRT_OUT = str.maketrans({"<": "\u2039", ">": "\u203a"})
_SRT_IN = str.maketrans({"\u2039": "<", "\u203a": ">"})


def srt_text(text: str) -> str:
    """A caption as a SubRip cue's text: nothing in it is read as markup by a player."""
    return text.translate(_SRT_OUT).replace("{\\", "{\u2060\\")


def parse_srt(text: str) -> list[Cue]:
    """Cues of a SubRip file (index line optional; CRLF and a byte-order mark tolerated)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.split("\n")
        for i, line in enumerate(lines[:2]):
            found = _SRT_TIME.match(line)
            if found:
                g = found.groups()
                body = "\n".join(t.strip() for t in lines[i + 1:] if t.strip())
                body = body.translate(_SRT_IN).replace("{\u2060\\", "{\\")
                cues.append(Cue(_ms(*g[:4]), _ms(*g[4:]), body))
                break
        else:
            raise PublishError(f"not a SubRip cue (no 'start --> end' line): {block[:60]!r}")
    return cues


def _stamp(ms: int, sep: str) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{milli:03d}"


def format_srt(cues: Sequence[Cue]) -> str:
    return "".join(
        f"{i}\n{_stamp(c.start_ms, ',')} --> {_stamp(c.end_ms, ',')}\n{srt_text(c.text)}\n\n"
        for i, c in enumerate(cues, 1)
    )


BURNED_IN_NOTE = "NOTE The same captions are drawn in the video frames."


def format_vtt(cues: Sequence[Cue], burned_in: bool = False) -> str:
    """WebVTT with the same timings; cue text escaped (``<`` starts a tag and ``&`` an entity).

    ``burned_in`` adds a NOTE saying the frames already show the captions, so that an embed
    does not switch the track on by default (the text would appear twice).
    """
    out = ["WEBVTT\n\n"]
    if burned_in:
        out.append(f"{BURNED_IN_NOTE}\n\n")
    for i, c in enumerate(cues, 1):
        body = c.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(f"{i}\n{_stamp(c.start_ms, '.')} --> {_stamp(c.end_ms, '.')}\n{body}\n\n")
    return "".join(out)


def captions_burned_in(vtt_path: Path) -> bool:
    """Whether :func:`format_vtt` marked the video as showing its captions itself."""
    try:
        head = Path(vtt_path).read_text(encoding="utf-8")[:200]
    except (OSError, UnicodeDecodeError):
        return False
    return BURNED_IN_NOTE in head


def read_cues(path: Path) -> list[Cue]:
    try:
        return parse_srt(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PublishError(f"cannot read subtitles {path}: {exc}") from None


# --------------------------------------------------------------------------------------------
# ffmpeg


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PublishError(f"{name} not found: install Debian's ffmpeg (make setup)")
    return found


def _file_arg(path: Path) -> str:
    """``path`` as ffmpeg must read it: absolute, so that a relative name with a colon
    (``data:x/...``, ``http:x``) is a file, never a protocol ffmpeg would open."""
    return os.path.abspath(path)


def probe(path: Path) -> dict:
    """Codec, pixel format, size, duration (s) and audio presence of a media file, from ffprobe."""
    cmd = [_tool("ffprobe"), "-v", "error", "-show_entries",
           "format=duration:stream=codec_type,codec_name,pix_fmt,width,height",
           "-of", "json", _file_arg(path)]
    run = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if run.returncode != 0:
        raise PublishError(f"ffprobe cannot read {path}: {_last_line(run.stderr)}")
    data = json.loads(run.stdout)
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise PublishError(f"{path} has no video stream")
    return {
        "codec": video.get("codec_name"),
        "pix_fmt": video.get("pix_fmt"),
        "width": int(video.get("width", 0)),
        "height": int(video.get("height", 0)),
        "duration": float(data.get("format", {}).get("duration", "nan")),
        "audio": any(s.get("codec_type") == "audio" for s in streams),
    }


def _last_line(text: str) -> str:
    lines = [t for t in text.strip().splitlines() if t.strip()]
    return lines[-1] if lines else "no message"


def _ffmpeg_to(dst: Path, args: list[str]) -> Path:
    """Run ``ffmpeg <args> <temp>`` and rename the temp file to ``dst`` once ffmpeg succeeded."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(dst, keep_suffix=True)
    cmd = [_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args, _file_arg(tmp)]
    try:
        run = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if run.returncode != 0:
            raise PublishError(f"ffmpeg failed writing {dst.name}: {_last_line(run.stderr)}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _write_text(dst: Path, text: str) -> Path:
    from transformer_core.files import atomic_write

    atomic_write(dst, text.encode("utf-8"))
    return dst


_EVEN = "scale=trunc(iw/2)*2:trunc(ih/2)*2"  # yuv420p needs even width and height


def encode_mp4(src: Path, dst: Path) -> Path:
    """H.264/yuv420p with the index (moov) first; a lossless remux when ``src`` is that already."""
    info = probe(src)
    audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k"] if info["audio"] else []
    if info["codec"] == "h264" and info["pix_fmt"] == "yuv420p":
        video = ["-c:v", "copy"]
        audio = ["-map", "0:a:0", "-c:a", "copy"] if info["audio"] else []
    else:
        video = ["-vf", _EVEN, "-c:v", "libx264", "-preset", "medium", "-crf", "20",
                 "-pix_fmt", "yuv420p"]
    return _ffmpeg_to(dst, ["-i", _file_arg(src), "-map", "0:v:0", *video, *audio,
                            "-movflags", "+faststart", "-f", "mp4"])


def encode_webm(src: Path, dst: Path) -> Path:
    """VP9 in constant-quality mode (``-b:v 0``).

    The realtime speed setting: on the 82 s attention video at 480p (2 cores) it took 3 s for
    2.2 MB where ``-deadline good -cpu-used 4`` took 32 s for 1.8 MB, with the same PSNR
    (39.0 dB against the mp4) and text as legible; at 1080p60 the slow setting would take
    longer than the render itself.
    """
    audio = ["-map", "0:a:0", "-c:a", "libopus", "-b:a", "96k"] if probe(src)["audio"] else []
    return _ffmpeg_to(dst, ["-i", _file_arg(src), "-map", "0:v:0", "-vf", _EVEN,
                            "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "34",
                            "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                            "-threads", str(min(os.cpu_count() or 1, 8)),
                            "-pix_fmt", "yuv420p", *audio, "-f", "webm"])


def encode_gif(src: Path, dst: Path, fps: int = GIF_FPS, max_width: int = GIF_MAX_WIDTH) -> Path:
    """One palette for the whole clip (diagrams use few colours); only changed areas redrawn."""
    graph = (f"fps={fps},scale='min({max_width},iw)':-2:flags=lanczos,split[a][b];"
             "[a]palettegen=max_colors=128[p];"
             "[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle")
    return _ffmpeg_to(dst, ["-i", _file_arg(src), "-filter_complex", graph, "-loop", "0", "-f", "gif"])


def extract_poster(src: Path, dst: Path, at_seconds: float) -> Path:
    """The frame shown at ``at_seconds`` as a PNG at the video's own size."""
    return _ffmpeg_to(dst, ["-ss", f"{max(at_seconds, 0.0):.3f}", "-i", _file_arg(src),
                            "-frames:v", "1", "-update", "1", "-f", "image2", "-c:v", "png"])


def poster_time(cues: Sequence[Cue], duration: float) -> float:
    """Just before the last subtitle ends: the end state of the final step, the fullest picture.

    Without subtitles, the middle of the video.
    """
    if cues:
        end = min(max(c.end_ms for c in cues) / 1000, duration)
        return max(end - 0.25, 0.0)
    return duration / 2


def publish_video(video_path: Path, srt_path: Path | None = None, *,
                  captions_in_video: bool = False, poster_at: float | None = None,
                  progress: Callable[[Path], None] | None = None) -> dict[str, Path]:
    """Write the web-ready set beside ``video_path``; return ``{"mp4", "webm", "gif", "poster",
    "srt", "vtt"}`` → paths (no subtitle keys without an ``srt_path``).

    ``video_path`` may be the mp4 itself (it is then replaced by its faststart version).
    ``captions_in_video``: the frames show the captions already (the scene's ``captions``
    option); the embed then offers the subtitle track without switching it on.
    ``poster_at``: the poster's time in seconds (default: :func:`poster_time`).
    ``progress`` is called with each path once that file is complete.
    """
    video_path = Path(video_path)
    if not video_path.is_file():
        raise PublishError(f"no video at {video_path}")
    folder, stem = video_path.parent, video_path.stem
    out: dict[str, Path] = {}

    def done(key: str, path: Path) -> None:
        out[key] = path
        if progress is not None:
            progress(path)

    cues: list[Cue] = []
    if srt_path is not None:
        srt_path = Path(srt_path)
        cues = read_cues(srt_path)
        srt_dst = folder / f"{stem}.srt"
        if srt_dst.resolve() != srt_path.resolve():
            _write_text(srt_dst, format_srt(cues))
        done("srt", srt_dst)
        done("vtt", _write_text(folder / f"{stem}.vtt", format_vtt(cues, captions_in_video)))
    done("mp4", encode_mp4(video_path, folder / f"{stem}.mp4"))
    duration = probe(out["mp4"])["duration"]
    done("poster", extract_poster(out["mp4"], folder / f"{stem}.poster.png",
                                  poster_time(cues, duration) if poster_at is None
                                  else min(poster_at, max(duration - 0.1, 0.0))))
    done("webm", encode_webm(out["mp4"], folder / f"{stem}.webm"))
    done("gif", encode_gif(out["mp4"], folder / f"{stem}.gif"))
    return out


# --------------------------------------------------------------------------------------------
# Finding what was rendered


@dataclass(frozen=True)
class VideoSet:
    """The files of one rendered video in ``folder`` (``None`` where a file does not exist)."""

    scene: str
    folder: Path
    mp4: Path | None
    webm: Path | None
    gif: Path | None
    poster: Path | None
    srt: Path | None
    vtt: Path | None
    cues: tuple[Cue, ...] = field(default=())

    def missing_for_web(self) -> list[str]:
        """Names of the files a ``<video>`` snippet needs that are not there."""
        return [f"{self.scene}{_SUFFIX[p]}" for p in WEB_PARTS if getattr(self, p) is None]

    @property
    def alt_text(self) -> str:
        """The storyboard's captions, in order: what the video shows, in words.

        All of them, not the first: for a silent video the text alternative is the transcript.
        """
        return " ".join(" ".join(c.text.split()) for c in self.cues)


_SUFFIX = {"mp4": ".mp4", "webm": ".webm", "gif": ".gif", "poster": ".poster.png",
           "srt": ".srt", "vtt": ".vtt"}


def find_video(renders: Path, scene: str) -> VideoSet | None:
    """What exists of ``scene``'s video under ``renders``; ``None`` if not even the mp4 does."""
    renders = Path(renders)
    found = {part: (renders / f"{scene}{suffix}") for part, suffix in _SUFFIX.items()}
    found = {part: (p if p.is_file() else None) for part, p in found.items()}
    if found["mp4"] is None:
        return None
    cues: list[Cue] = []
    if found["srt"] is not None:
        cues = read_cues(found["srt"])
    return VideoSet(scene=scene, folder=renders, cues=tuple(cues), **found)


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def find_videos(renders: Path) -> list[VideoSet]:
    names = sorted(p.stem for p in Path(renders).glob("*.mp4") if _visible(p))
    return [v for v in (find_video(renders, n) for n in names) if v is not None]


@dataclass(frozen=True)
class Diagram:
    """One SVG diagram: a storyboard step's end state, with its title and caption."""

    scene: str
    path: Path
    title: str
    caption: str
    width: float | None
    height: float | None


def _px(value: str | None) -> float | None:
    if not value:
        return None
    found = re.match(r"\s*([0-9.]+)\s*(px)?\s*$", value)
    return float(found.group(1)) if found else None


def read_diagram(scene: str, path: Path) -> Diagram:
    """Title and caption from the SVG's own ``<title>``/``<desc>`` (the file name if absent)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise PublishError(f"cannot read SVG {path}: {exc}") from None
    title = root.findtext(f"{SVG_NS}title") or root.findtext("title") or path.stem
    desc = root.findtext(f"{SVG_NS}desc") or root.findtext("desc") or ""
    return Diagram(scene=scene, path=Path(path), title=" ".join(title.split()),
                   caption=" ".join(desc.split()),
                   width=_px(root.get("width")), height=_px(root.get("height")))


def find_diagrams(renders: Path, skipped: list[Path] | None = None) -> dict[str, list[Diagram]]:
    """``renders/svg/<scene>/*.svg`` by scene, each in file-name (step) order. A file that is
    not a readable SVG (truncated, foreign, unreadable) is left out, and added to ``skipped``:
    one bad file does not cost the page."""
    out: dict[str, list[Diagram]] = {}
    svg_root = Path(renders) / "svg"
    if not svg_root.is_dir():
        return out
    for folder in sorted(p for p in svg_root.iterdir() if p.is_dir() and _visible(p)):
        found = []
        for path in sorted(p for p in folder.glob("*.svg") if _visible(p)):
            try:
                found.append(read_diagram(folder.name, path))
            except PublishError:
                if skipped is not None:
                    skipped.append(path)
        if found:
            out[folder.name] = found
    return out


# --------------------------------------------------------------------------------------------
# Snippets


def _url(path: Path, renders: Path, base_url: str | None) -> str:
    """``path`` relative to ``renders`` (where the snippet's files live), under ``base_url``."""
    rel = quote(Path(os.path.relpath(path, renders)).as_posix(), safe="/")
    if base_url:
        return base_url.rstrip("/") + "/" + rel
    return rel


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (bytes 16–24), without decoding it."""
    try:
        head = Path(path).read_bytes()[:24]
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|&])")


def _md_text(text: str) -> str:
    """Plain text safe inside Markdown brackets: punctuation backslash-escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _label(v: VideoSet) -> str:
    return v.alt_text or f"Animation: {v.scene}"


def embed_snippet(v: VideoSet, fmt: str = "html", base_url: str | None = None, *,
                  inline_subtitles: bool = False) -> str:
    """HTML ``<video>`` (webm then mp4, poster, WebVTT captions, a link to the gif) or Markdown.

    The fallback inside ``<video>`` is a link, not an ``<img>``: Chromium fetches an image there
    even though it never shows it (measured: the 6.9 MB gif of the attention scene).

    Markdown has no video: it shows the gif (or the poster) linked to the mp4.
    ``inline_subtitles`` puts the WebVTT text itself in the track (a ``data:`` URL): browsers
    refuse a track file next to a page opened from disk, but not that.
    """
    url = {part: _url(getattr(v, part), v.folder, base_url)
           for part in _SUFFIX if getattr(v, part) is not None}
    if inline_subtitles and v.vtt is not None:
        url["vtt"] = "data:text/vtt;base64," + base64.b64encode(v.vtt.read_bytes()).decode()
    label = _label(v)
    if fmt == "markdown":
        picture = url.get("gif") or url.get("poster")
        if picture is None:
            return f"[{_md_text(label)}]({_md_url(url['mp4'])})"
        return f"[![{_md_text(label)}]({_md_url(picture)})]({_md_url(url['mp4'])})"
    if fmt != "html":
        raise ValueError(f"unknown snippet format {fmt!r}: html or markdown")
    e = html.escape
    attrs = ['muted loop playsinline controls preload="metadata"']
    if "poster" in url:
        attrs.append(f'poster="{e(url["poster"])}"')
        size = _png_size(v.poster)
        if size:
            attrs.append(f'width="{size[0]}" height="{size[1]}"')
    attrs.append(f'aria-label="{e(label)}"')
    lines = [f"<video {' '.join(attrs)}>"]
    if "webm" in url:
        lines.append(f'  <source src="{e(url["webm"])}" type="video/webm">')
    lines.append(f'  <source src="{e(url["mp4"])}" type="video/mp4">')
    if "vtt" in url:
        default = "" if captions_burned_in(v.vtt) else " default"
        lines.append(f'  <track kind="captions" src="{e(url["vtt"])}" srclang="en" '
                     f'label="English"{default}>')
    if "gif" in url:
        lines.append(f'  <a href="{e(url["gif"])}">Animated GIF</a>')
    lines.append("</video>")
    return "\n".join(lines)


def diagram_snippet(d: Diagram, renders: Path, fmt: str = "html",
                    base_url: str | None = None) -> str:
    url = _url(d.path, renders, base_url)
    alt = d.caption or d.title
    if fmt == "markdown":
        return f"![{_md_text(alt)}]({_md_url(url)})"
    size = ""
    if d.width and d.height:
        size = f' width="{d.width:g}" height="{d.height:g}"'
    return f'<img src="{html.escape(url)}" alt="{html.escape(alt)}"{size}>'


# --------------------------------------------------------------------------------------------
# Gallery


_CSS = """
:root { color-scheme: light dark; --fg: #1d2129; --bg: #fbfbfd; --muted: #5b6270;
        --card: #ffffff; --line: #d9dce3; --code: #f2f3f7; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8ee; --bg: #14161b; --muted: #a2a9b6; --card: #1c1f26; --line: #2d323c;
          --code: #23272f; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; font: 16px/1.5 system-ui, sans-serif;
       color: var(--fg); background: var(--bg); }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { margin: 40px 0 8px; font-size: 1.3rem; }
h3 { font-size: 1.05rem; margin: 20px 0 6px; }
p.lead, .muted { color: var(--muted); }
video, img.diagram { display: block; width: 100%; height: auto; background: #000;
                     border-radius: 6px; }
img.diagram { background: var(--card); border: 1px solid var(--line); }
.video { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 20px; }
@media (max-width: 800px) { .video { grid-template-columns: 1fr; } }
ol.steps { margin: 0; padding-left: 1.4em; } ol.steps li { margin-bottom: 6px; }
button.seek { font: inherit; font-variant-numeric: tabular-nums; color: var(--muted);
              background: none; border: 0; padding: 0 4px 0 0; cursor: pointer; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 20px; }
figure { margin: 0; padding: 12px; background: var(--card); border: 1px solid var(--line);
         border-radius: 8px; }
figcaption { margin-top: 8px; } figcaption b { display: block; font-size: .9rem;
                                                color: var(--muted); font-weight: 600; }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--muted); font-size: .9rem; }
.snippet { position: relative; }
pre { margin: 6px 0; padding: 10px; padding-right: 64px; overflow-x: auto; background: var(--code);
      border-radius: 6px; font-size: .78rem; white-space: pre-wrap; word-break: break-all; }
button.copy { position: absolute; top: 6px; right: 6px; font-size: .8rem; cursor: pointer; }
"""

_JS = """
document.addEventListener('click', async (ev) => {
  const t = ev.target;
  if (t.matches('button.copy')) {
    const text = t.parentElement.querySelector('code').textContent;
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const range = document.createRange();
      range.selectNodeContents(t.parentElement.querySelector('code'));
      getSelection().removeAllRanges(); getSelection().addRange(range);
      document.execCommand('copy');
    }
    t.textContent = 'Copied'; setTimeout(() => { t.textContent = 'Copy'; }, 1500);
  } else if (t.matches('button.seek')) {
    const video = document.getElementById(t.dataset.video);
    video.currentTime = Number(t.dataset.time); video.play();
  }
});
"""


def _snippet_block(title: str, code: str) -> str:
    return (f'<div class="snippet"><b class="muted">{html.escape(title)}</b>'
            f'<pre><code>{html.escape(code)}</code></pre>'
            f'<button class="copy" type="button">Copy</button></div>')


def _clock(ms: int) -> str:
    s = ms // 1000
    return f"{s // 60}:{s % 60:02d}"


def _page_url(path: Path, page_dir: Path) -> str:
    return _url(path, page_dir, None)


def gallery_html(renders: Path, page_dir: Path | None = None,
                 title: str = "Transformer, explained: renders") -> str:
    """One page (styles and script inline, no network) showing every video and SVG diagram.

    Media are referenced relative to ``page_dir`` (the folder the page is written to); the
    subtitles are inline, so the page also works opened from disk. The snippets offered for
    copying are relative to ``renders``, exactly as ``cli.py embed`` prints them.
    """
    renders = Path(renders).resolve()
    page_dir = Path(page_dir).resolve() if page_dir is not None else renders
    videos = find_videos(renders)
    diagrams = find_diagrams(renders)
    e = html.escape
    from transformer_explained import command_name

    lead = ('<p class="lead">Every rendered video and SVG diagram under '
            f"<code>{e(renders.name)}/</code>, with each step's caption and the snippet to "
            "paste into a blog post (copy the files beside the post, or add a base URL with "
            f"<code>{e(command_name())} embed SCENE --base-url URL</code>).</p>")
    body = [f"<h1>{e(title)}</h1>", lead]
    for scene in sorted({v.scene for v in videos} | set(diagrams)):
        body.append(f'<section id="{e(scene)}"><h2>{e(scene)}</h2>')
        video = next((v for v in videos if v.scene == scene), None)
        if video is not None:
            vid = f"video-{scene}"
            player = embed_snippet(replace(video, folder=page_dir), inline_subtitles=True)
            player = player.replace("<video ", f'<video id="{e(vid)}" ', 1)
            steps = "".join(
                f'<li><button class="seek" type="button" data-video="{e(vid)}" '
                f'data-time="{c.start_ms / 1000:.3f}">{_clock(c.start_ms)}</button>'
                f"{e(' '.join(c.text.split()))}</li>"
                for c in video.cues)
            downloads = " · ".join(
                f'<a href="{e(_page_url(getattr(video, p), page_dir))}">{e(p)}</a>'
                for p in ("mp4", "webm", "gif", "poster", "vtt", "srt")
                if getattr(video, p) is not None)
            body.append(
                f'<div class="video"><div>{player}<p class="muted">Files: {downloads}</p></div>'
                f'<div><h3>Steps</h3><ol class="steps">{steps}</ol></div></div>'
                f'<details open><summary>Embed this video</summary>'
                + _snippet_block("HTML", embed_snippet(video))
                + _snippet_block("Markdown (for hosts that strip HTML)",
                                 embed_snippet(video, "markdown")) +
                "</details>")
        if scene in diagrams:
            body.append(f"<h3>Diagrams ({len(diagrams[scene])} steps, SVG)</h3>"
                        '<div class="grid">')
            for d in diagrams[scene]:
                src = _page_url(d.path, page_dir)
                body.append(
                    f'<figure><img class="diagram" src="{e(src)}" alt="{e(d.caption or d.title)}">'
                    f"<figcaption><b>{e(d.path.stem)}</b>{e(d.caption)}</figcaption>"
                    f"<details><summary>Embed</summary>"
                    f"{_snippet_block('HTML', diagram_snippet(d, renders))}"
                    f"{_snippet_block('Markdown', diagram_snippet(d, renders, 'markdown'))}"
                    "</details></figure>")
            body.append("</div>")
        body.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'  # self-contained: no request for /favicon.ico
            f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{_JS}</script>\n</body></html>\n")


def write_gallery(renders: Path, out: Path) -> tuple[Path, int, int]:
    """Write the gallery page; return ``(path, number of videos, number of diagrams)``."""
    renders, out = Path(renders), Path(out)
    n_videos = len(find_videos(renders))
    n_diagrams = sum(len(ds) for ds in find_diagrams(renders).values())
    _write_text(out, gallery_html(renders, out.parent))
    return out, n_videos, n_diagrams
