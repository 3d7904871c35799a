"""What a file is, read from its own bytes and headers: the first step of every check.

- :mod:`.sniff`: the format by magic number; :mod:`.probe`: the displayed size, duration, codecs,
  rotation (:func:`preflight.probe`), from headers only where the containers allow;
- the container readers it leans on: :mod:`.isobmff` (MP4/MOV boxes), :mod:`.matroska` (EBML),
  :mod:`.nal` and :mod:`.h264sps` (H.264/HEVC bitstream facts without a decoder);
- damage: :mod:`.damage` (decoding past it, as ffmpeg does) and :mod:`.packetscan` (what packets show
  of it without decoding).
"""
