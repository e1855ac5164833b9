#!/usr/bin/python3
"""Second opinion for the differential test (test/unit/scan-differential.test.ts).

Reads every path given on stdin (one per line) with Debian's python3-mutagen in this one process
and prints one JSON object {path: record} on stdout. A record holds the stream info and the tags
mapped onto one vocabulary (title, artists, album, albumartist, track/disc numbers and totals,
date, genres, MusicBrainz ids, ReplayGain, compilation, picture), whatever the tag format.
"""
import json
import sys

import mutagen
from mutagen.apev2 import APEv2
from mutagen.asf import ASFTags
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags


def text_values(value):
    """Every string a tag value holds (frames, lists, ASF/APE/MP4 values)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(text_values(item))
        return out
    if hasattr(value, "text") and not isinstance(value, str):
        return text_values(list(value.text))
    if hasattr(value, "value") and not isinstance(value, (str, bytes)):
        return text_values(value.value)
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")]
    return [str(value)]


def number_pair(values):
    """ "3/12" -> (3, 12); "3" -> (3, None)."""
    for v in values:
        if isinstance(v, tuple):
            return (v[0] or None, v[1] if len(v) > 1 and v[1] else None)
        s = str(v).strip()
        if not s:
            continue
        a, _, b = s.partition("/")
        try:
            no = int(a.strip())
        except ValueError:
            return (None, None)
        try:
            of = int(b.strip()) if b.strip() else None
        except ValueError:
            of = None
        return (no, of)
    return (None, None)


# tag key -> field, per tag family (keys compared lower-cased)
REPLAYGAIN = {
    "replaygain_track_gain": "rg_track_gain", "replaygain_album_gain": "rg_album_gain",
    "replaygain_track_peak": "rg_track_peak", "replaygain_album_peak": "rg_album_peak",
}
ID3_TEXT = {
    "tit2": "title", "tt2": "title", "tpe1": "artists", "tp1": "artists", "talb": "album", "tal": "album",
    "tpe2": "albumartist", "tp2": "albumartist", "tcon": "genres", "tco": "genres",
    "tdrc": "date", "tyer": "date", "tye": "date", "tcmp": "compilation", "tcp": "compilation",
}
ID3_TXXX = {
    "musicbrainz album id": "mb_albumid", "musicbrainz artist id": "mb_artistid", "musicbrainz release track id": "mb_trackid",
    **REPLAYGAIN,
}
VORBIS = {
    "title": "title", "artist": "artists", "album": "album", "albumartist": "albumartist", "album artist": "albumartist",
    "genre": "genres", "date": "date", "year": "date", "compilation": "compilation",
    "musicbrainz_albumid": "mb_albumid", "musicbrainz_artistid": "mb_artistid", "musicbrainz_trackid": "mb_recordingid",
    "musicbrainz_releasetrackid": "mb_trackid",
    **REPLAYGAIN,
    "tracknumber": "track", "track": "track", "discnumber": "disc", "disc": "disc",
    "tracktotal": "tracktotal", "totaltracks": "tracktotal", "disctotal": "disctotal", "totaldiscs": "disctotal",
}
MP4 = {
    "\xa9nam": "title", "\xa9art": "artists", "\xa9alb": "album", "aart": "albumartist", "\xa9gen": "genres",
    "\xa9day": "date", "cpil": "compilation", "trkn": "track", "disk": "disc",
    "----:com.apple.itunes:musicbrainz album id": "mb_albumid", "----:com.apple.itunes:musicbrainz artist id": "mb_artistid",
    "----:com.apple.itunes:musicbrainz track id": "mb_recordingid",
    "----:com.apple.itunes:musicbrainz release track id": "mb_trackid",
    "----:com.apple.itunes:replaygain_track_gain": "rg_track_gain", "----:com.apple.itunes:replaygain_album_gain": "rg_album_gain",
    "----:com.apple.itunes:replaygain_track_peak": "rg_track_peak", "----:com.apple.itunes:replaygain_album_peak": "rg_album_peak",
}
ASF = {
    "title": "title", "author": "artists", "wm/albumtitle": "album", "wm/albumartist": "albumartist", "wm/genre": "genres",
    "wm/year": "date", "wm/tracknumber": "track", "wm/partofset": "disc", "wm/iscompilation": "compilation",
    "musicbrainz/album id": "mb_albumid", "musicbrainz/artist id": "mb_artistid", "musicbrainz/track id": "mb_recordingid",
    "musicbrainz/release track id": "mb_trackid",
    **REPLAYGAIN,
}


def tag_fields(tags):
    out = {}
    picture = False

    def put(field, values):
        values = [v for v in values if v != ""]
        if values and field not in out:
            out[field] = values

    if isinstance(tags, ID3):
        for frame in tags.values():
            fid = frame.FrameID.lower()
            if fid in ID3_TEXT:
                put(ID3_TEXT[fid], text_values(frame))
            elif fid in ("trck", "trk"):
                put("track", text_values(frame))
            elif fid in ("tpos", "tpa"):
                put("disc", text_values(frame))
            elif fid in ("txxx", "txx"):
                key = ID3_TXXX.get(frame.desc.lower())
                if key:
                    put(key, text_values(frame))
            elif fid in ("ufid",) and frame.owner == "http://musicbrainz.org":
                put("mb_recordingid", [frame.data.decode("ascii", "replace")])
            elif fid in ("apic", "pic"):
                picture = True
    else:
        family = VORBIS
        if isinstance(tags, MP4Tags):
            family = MP4
        elif isinstance(tags, ASFTags):
            family = ASF
        elif isinstance(tags, APEv2):
            family = dict(VORBIS, **{"album artist": "albumartist", "year": "date"})
        items = tags.items() if hasattr(tags, "items") else list(tags)
        for key, value in items:
            k = key.lower()
            if k in ("covr", "metadata_block_picture", "wm/picture") or k.startswith("cover art"):
                picture = True
                continue
            if k in family:
                put(family[k], text_values(value))
    for field in ("track", "disc"):
        if field in out:
            raw = out.pop(field)
            no, of = number_pair(raw)
            if no is not None:
                out[field + "_no"] = no
            if of is not None and (field + "total") not in out:
                out[field + "total"] = [str(of)]
    for field in ("tracktotal", "disctotal"):
        if field in out:
            try:
                out[field] = int(str(out[field][0]).split("/")[0])
            except ValueError:
                del out[field]
    out["picture"] = picture
    return out


def read(path):
    try:
        f = mutagen.File(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure is an oracle answer
        return {"error": f"{type(exc).__name__}: {exc}"}
    if f is None:
        return {"error": "unknown format"}
    info = getattr(f, "info", None)
    record = {"type": type(f).__name__}
    for key, attr in (("duration", "length"), ("sample_rate", "sample_rate"), ("channels", "channels"), ("bitrate", "bitrate")):
        value = getattr(info, attr, None)
        if isinstance(value, (int, float)) and value > 0:
            record[key] = value
    if f.tags is not None:
        record["tags"] = tag_fields(f.tags)
        record["tag_type"] = type(f.tags).__name__
    if getattr(f, "pictures", None):
        record.setdefault("tags", {})["picture"] = True
    return record


def main():
    results = {}
    for line in sys.stdin:
        path = line.rstrip("\n")
        if path:
            results[path] = read(path)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
