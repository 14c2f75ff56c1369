"""Montgomery County traffic-stops pipeline: Socrata / CSV export -> lake zones -> warehouse -> marts."""

__version__ = "0.1.0"
