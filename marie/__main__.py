from marie.cli import main

raise SystemExit(main())
