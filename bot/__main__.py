"""`python -m bot` is the same command as `rulebot`."""

from bot.cli import main

raise SystemExit(main())
