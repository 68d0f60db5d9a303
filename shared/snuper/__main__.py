from snuper.cli import main

raise SystemExit(main())
