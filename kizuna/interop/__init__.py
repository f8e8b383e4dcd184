"""Interoperability: the formats real systems speak, in and out.

Owns the encoders and decoders of Cursor-on-Target (`kizuna.interop.cot`, the TAK ecosystem's
XML events), DIS Entity State PDUs (`kizuna.interop.dis`, IEEE 1278.1), ASTERIX CAT062 system
tracks (`kizuna.interop.asterix`) and CZML / GeoJSON exports of a recording
(`kizuna.interop.export`). Every decoder is strict: a malformed record raises a typed error that
the feed counts, logs and skips.

The common input of the encoders is a picture: rows of system tracks as in ``picture_<NATION>``
(`kizuna.recording.PICTURE_SCHEMA`), as a pandas DataFrame, plus the scenario's epoch to turn
``time_s`` into UTC. Longitude-first ordering exists only inside these encoders.

May import NumPy, pandas, defusedxml, `kizuna.constants`, `kizuna.frames` and
`kizuna.timebase`; nothing of the node, network or tracking.
"""
