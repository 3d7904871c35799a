"""Colour: what HDR and wide-gamut sources need to become what providers show (SDR BT.709 / sRGB).

- :mod:`.curves`: the transfer curves (PQ, HLG), primaries, the tone map's roll-off, in numpy;
- :mod:`.graph`: which conversion a decoded frame needs and the libavfilter chain that does it;
- :mod:`.photo`: HDR stills (HEIC/AVIF/PNG) to SDR pixels.
"""
