from torchvet.cli import main

raise SystemExit(main())
