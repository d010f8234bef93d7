"""torchvet sub-commands: each module exposes ``configure(parser)`` and ``run(args)``."""
