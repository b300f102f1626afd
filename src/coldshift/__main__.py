from __future__ import annotations

from coldshift.cli.main import main

main()
