"""The pure core: rules, formats, matching and planning. No I/O happens in this package."""
